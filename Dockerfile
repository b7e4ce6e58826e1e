# One image for edge, flow, api and migrations (CPU; no torch).
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e ".[edge,ocr,api]"
RUN mkdir -p /var/lib/alpr/spool /var/lib/alpr/recovery
EXPOSE 18000 19101 19102 19103
CMD ["alpr", "--help"]
