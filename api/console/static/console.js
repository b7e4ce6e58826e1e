/* ALPR operator console: the little that needs a script (no inline scripts: CSP script-src 'self').
 * - CSRF header on htmx requests, local times, theme toggle, confirmation prompts;
 * - the live page: server-sent events, one card per event (no duplicates after a reconnect),
 *   watchlist hits highlighted, announced and (optionally) beeped. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  document.addEventListener("htmx:configRequest", function (evt) {
    var token = csrfToken();
    if (token) { evt.detail.headers["X-CSRF-Token"] = token; }
  });

  /* ---- times in the viewer's zone ---- */
  var fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit"
  });
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) { el.title = el.textContent; el.textContent = fmt.format(d); }
    });
  }

  /* ---- theme ---- */
  function applyTheme(theme) {
    if (theme) { document.documentElement.setAttribute("data-theme", theme); }
    else { document.documentElement.removeAttribute("data-theme"); }
  }
  try { applyTheme(localStorage.getItem("alpr-theme")); } catch (e) { /* storage off */ }
  function initTheme() {
    var button = document.getElementById("theme-toggle");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var dark = document.documentElement.getAttribute("data-theme") === "dark" ||
        (!document.documentElement.getAttribute("data-theme") &&
         window.matchMedia("(prefers-color-scheme: dark)").matches);
      var next = dark ? "light" : "dark";
      applyTheme(next);
      try { localStorage.setItem("alpr-theme", next); } catch (e) { /* storage off */ }
    });
  }

  /* ---- confirmations: <form data-confirm="text"> ---- */
  function initConfirm(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (evt) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { evt.preventDefault(); }
      });
    });
  }

  /* ---- live page ---- */
  var audioCtx = null;
  function beep() {
    try {
      audioCtx = audioCtx || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audioCtx.createOscillator(), gain = audioCtx.createGain();
      osc.type = "square"; osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, audioCtx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, audioCtx.currentTime + 0.35);
      osc.connect(gain); gain.connect(audioCtx.destination);
      osc.start(); osc.stop(audioCtx.currentTime + 0.36);
    } catch (e) { /* no audio */ }
  }

  function initLive() {
    var list = document.getElementById("live-events");
    if (!list || !window.EventSource) { return; }
    var status = document.getElementById("live-status");
    var announcer = document.getElementById("hit-announcer");
    var sound = document.getElementById("sound");
    var base = list.getAttribute("data-stream");
    var last = list.getAttribute("data-after") || "";
    var source = null, retry = 1000, MAX_CARDS = 200;

    function say(text, state) {
      status.textContent = text;
      status.setAttribute("data-state", state);
    }

    function place(msg) {
      var current = document.getElementById("ev-" + msg.id);
      if (current && current.getAttribute("data-version") >= msg.version) { return false; }
      var holder = document.createElement("div");
      holder.innerHTML = msg.html;   /* server-rendered, autoescaped */
      var card = holder.firstElementChild;
      if (!card) { return false; }
      /* when this event first appeared on the page (the browser tests measure it) */
      card.setAttribute("data-first-shown",
        (current && current.getAttribute("data-first-shown")) || String(Date.now()));
      if (current) { current.remove(); }
      var empty = document.getElementById("live-empty");
      if (empty) { empty.remove(); }
      card.classList.add("fresh");
      list.insertBefore(card, list.firstElementChild);
      localTimes(card);
      while (list.children.length > MAX_CARDS) { list.lastElementChild.remove(); }
      return true;
    }

    function connect() {
      var url = base + (base.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(last);
      source = new EventSource(url);
      source.addEventListener("open", function () { retry = 1000; say("Live", "up"); });
      source.addEventListener("plate", function (evt) {
        var msg = JSON.parse(evt.data);
        if (evt.lastEventId) { last = evt.lastEventId; }
        var placed = place(msg);
        if (placed && msg.hit) {
          announcer.textContent = "Watchlist hit: " + msg.plate + " on " + msg.camera;
          if (sound && sound.checked) { beep(); }
        }
      });
      source.addEventListener("signout", function () {
        source.close(); say("Signed out", "down"); window.location.assign("/console/login");
      });
      source.addEventListener("error", function () {
        /* The browser retries by itself while readyState is CONNECTING (it sends Last-Event-ID);
           when it gave up (CLOSED), start a new connection that resumes after the last id. */
        say("Reconnecting…", "down");
        if (source.readyState === EventSource.CLOSED) {
          window.setTimeout(connect, retry);
          retry = Math.min(retry * 2, 10000);
        }
      });
    }
    connect();
  }

  function initRoot(root) { localTimes(root); initConfirm(root); }

  document.addEventListener("DOMContentLoaded", function () {
    initRoot(document);
    initTheme();
    initLive();
  });
  document.addEventListener("htmx:load", function (evt) {
    if (evt.detail.elt !== document.body) { initRoot(evt.detail.elt); }
  });
}());
