# cnnviz in a container: `docker build -t cnnviz .` then `docker run -p 8501:8501 cnnviz`.
# CPU-only; torchvision weights are fetched on first use into /home/cnnviz/.cache/torch (mount a volume there
# to keep them), and the app works offline with its embedded model.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TORCH_HOME=/home/cnnviz/.cache/torch \
    MALLOC_ARENA_MAX=2

RUN useradd --create-home --uid 10001 cnnviz
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=10001:10001 app.py ./
COPY --chown=10001:10001 .streamlit .streamlit
COPY --chown=10001:10001 cnnviz cnnviz
COPY --chown=10001:10001 pages pages
COPY --chown=10001:10001 assets assets

USER 10001
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["python", "-m", "cnnviz.ui.launch", "--server.port=8501", "--server.address=0.0.0.0", "--server.fileWatcherType=none"]
