# The step image: Python 3.11 with kale-argo and the scientific stack its marshal codecs use (numpy,
# pandas, pyarrow) plus scikit-learn: the ready answer when compile warns that steps on the default
# image (python:3.11-slim, which has none of them) import packages. The e2e suite builds it as
# kale-argo-step:e2e and `kind load`s it. Build, push, and give it to the steps by digest:
#
#   docker build -t REGISTRY/kale-argo-step:1 . && docker push REGISTRY/kale-argo-step:1
#   kale-argo submit pipeline.py --image REGISTRY/kale-argo-step@sha256:...   # or docker_image=...
#
# or use it as a notebook image (pods submitted from the notebook then default to it, by digest).
# Other libraries: @pipeline(packages=[...]) installs them once per run on top of any image.
#
# Steps receive the user's script (and, unless told the image has it, kale-argo's step runtime)
# inside the Workflow, or run the script from a cloned workspace volume: nothing else is baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/kale-argo
# Dependencies first (cached while only the code changes), then the package itself.
COPY pyproject.toml README.md ./
RUN mkdir kale_argo && touch kale_argo/__init__.py \
    && pip install '.[examples]' \
    && pip uninstall -y kale-argo \
    && rm -rf kale_argo build *.egg-info
COPY kale_argo ./kale_argo
RUN pip install --no-deps '.[examples]' \
    && rm -rf build *.egg-info \
    && python -c "import kale_argo.runtime, numpy, pandas, pyarrow, sklearn" \
    && kale-argo --version
COPY examples ./examples

# Runs as root like python:3.11-slim, so fresh CSI volumes (root-owned on some drivers) are
# writable; compiled runs also set an fsGroup for images that run as a non-root user.
WORKDIR /workspace
CMD ["python"]
