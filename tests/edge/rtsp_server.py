"""A real RTSP server for the camera tests: GStreamer's rtsp-server through python3-gi.

Run with the system Python that has ``gi`` (not the project venv):
``/usr/bin/python3 tests/edge/rtsp_server.py PORT`` serves a live 320x240 15 fps MJPEG test
pattern at ``rtsp://127.0.0.1:PORT/test`` and prints ``ready`` once listening.
Needs the Debian packages gstreamer1.0-rtsp, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=15/1 "
    "! jpegenc quality=80 ! rtpjpegpay name=pay0 pt=26 )"
)


def main() -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/test", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{sys.argv[1]}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
