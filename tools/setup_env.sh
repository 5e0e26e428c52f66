#!/usr/bin/env bash
# Build mmdense's environment from nothing: a `.venv/` in the repository root.
#
#   bash tools/setup_env.sh            # create / update .venv and install mmdense
#
# Idempotent: when everything is already present it only checks imports and
# returns (seconds). The one slow step, building mmcv 2.1.0 with its C++ ops
# against the installed torch (about 10 min on 2 cores, built with -g0), is cached as a wheel under
# ${MMDENSE_CACHE:-~/.cache/mmdense} keyed by mmcv, torch and Python version,
# so only a machine's first set-up pays for it.
#
# Environment variables:
#   MMDENSE_PYTHON  Python interpreter to create the venv with (default python3.11 or python3)
#   MMDENSE_VENV    venv location (default <repo>/.venv)
#   MMDENSE_CACHE   wheel cache (default ~/.cache/mmdense)
#   MMDENSE_TORCH   torch version (default 2.14.1), MMDENSE_TORCHVISION (default 0.29.1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMDENSE_VENV:-$ROOT/.venv}"
CACHE="${MMDENSE_CACHE:-$HOME/.cache/mmdense}"
TORCH_VERSION="${MMDENSE_TORCH:-2.14.1}"
TORCHVISION_VERSION="${MMDENSE_TORCHVISION:-0.29.1}"
MMCV_VERSION="2.1.0"
PY_BOOT="${MMDENSE_PYTHON:-$(command -v python3.11 || command -v python3)}"

log() { printf '[setup_env] %s\n' "$*"; }

# ---------------------------------------------------------------- venv
if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv at $VENV with $PY_BOOT"
  "$PY_BOOT" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
export PIP_NO_INPUT=1

STAMP="$VENV/.mmdense-setup.stamp"
want_stamp="$(cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$0" | sha1sum | cut -c1-16)-torch$TORCH_VERSION"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] \
   && "$PY" -c "import torch, torchvision, mmcv.ops, mmdet, mmseg, mmpretrain, mmdense" 2>/dev/null; then
  log "environment up to date ($VENV)"
  exit 0
fi

# setuptools: torch 2.14 wants >=77.0.3; mmcv's setup.py and mmengine import
# pkg_resources, which setuptools 82 removed.
"${PIP[@]}" install -q "pip>=23" "setuptools>=77.0.3,<82" wheel

# ---------------------------------------------------------------- torch
if ! "$PY" -c "import torch, torchvision, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  log "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
  "${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

# ---------------------------------------------------------------- mmcv with ops
PYTAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PYTAG"
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
  if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    log "building mmcv $MMCV_VERSION with ops against torch $TORCH_VERSION (one-off, about 10 min on 2 cores)"
    BUILD="$(mktemp -d)"
    trap 'rm -rf "$BUILD"' EXIT
    "${PIP[@]}" download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$BUILD"
    tar -xzf "$BUILD"/mmcv-*.tar.gz -C "$BUILD"
    SRC="$(find "$BUILD" -maxdepth 1 -type d -name 'mmcv-*' | head -n1)"
    # torch >= 2.10 headers need C++20; mmcv 2.1.0 hard-codes -std=c++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    # mmcv's setup.py imports these at build time
    "${PIP[@]}" install -q ninja packaging addict yapf pyyaml
    mkdir -p "$WHEEL_DIR.tmp"
    (cd "$SRC" && CFLAGS="${CFLAGS:-} -g0" CXXFLAGS="${CXXFLAGS:-} -g0" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" FORCE_CUDA=0 \
        "${PIP[@]}" wheel -q --no-build-isolation --no-deps . -w "$WHEEL_DIR.tmp")
    rm -rf "$WHEEL_DIR" && mv "$WHEEL_DIR.tmp" "$WHEEL_DIR"   # publish the cache atomically
  fi
  log "installing cached mmcv wheel from $WHEEL_DIR"
  # --no-deps: mmcv's metadata asks for opencv-python (needs libGL); we use the headless build.
  "${PIP[@]}" install -q --no-deps "$WHEEL_DIR"/mmcv-*.whl
fi

# ---------------------------------------------------------------- the rest
log "installing requirements"
"${PIP[@]}" install -q -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/mminstall.txt" \
    -r "$ROOT/requirements/tests.txt" -r "$ROOT/requirements/optional.txt"
# One OpenCV build: the headless contrib one (cv2.ximgproc: OpenCV's SLIC superpixels). Some
# OpenMMLab wheels pull the GUI build (needs libGL at import time), an older venv may hold the
# plain headless one: every build installs the same cv2 package, so the others go.
opencv_swapped=0
for other in opencv-python opencv-python-headless opencv-contrib-python; do
  if "$PY" -m pip show -q "$other" >/dev/null 2>&1; then
    "${PIP[@]}" uninstall -q -y "$other"
    opencv_swapped=1
  fi
done
if [ "$opencv_swapped" = 1 ]; then
  "${PIP[@]}" install -q --force-reinstall --no-deps "opencv-contrib-python-headless>=4.7,<5"
fi
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

"$PY" -c "import torch, torchvision, mmcv.ops, mmdet, mmseg, mmpretrain, mmdense; \
print('[setup_env] torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmdet', mmdet.__version__, \
'| mmseg', mmseg.__version__, '| mmpretrain', mmpretrain.__version__, '| mmdense', mmdense.__version__)"
echo "$want_stamp" > "$STAMP"
log "done: activate with 'source $VENV/bin/activate'"
