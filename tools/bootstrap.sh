#!/usr/bin/env bash
# One-command set-up and run on a fresh Debian machine (see README.md).
#   bash tools/bootstrap.sh test       install what is missing, run the tests
#   bash tools/bootstrap.sh pipeline   install what is missing, run the
#                                      end-to-end pipeline on synthetic data
# Extra arguments after the action are passed on to pytest / the pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
action="${1:-}"; shift || true

install_debian_packages() {
  local missing=()
  while read -r pkg; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$pkg")
  done < apt-packages.txt
  if ((${#missing[@]})); then
    echo "[bootstrap] installing Debian packages: ${missing[*]}"
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"
  fi
}

install_python_packages() {
  if ! python3 -c "import sph_embed, tensorflow, tf_keras, tensorflow_hub, \
pyshtools, trimesh, embreex, pyrender, tensorflow_graphics, xdist" \
      2>/dev/null; then
    echo "[bootstrap] installing Python packages"
    python3 -m pip install -q -r requirements.txt
    python3 -m pip install -q --no-deps -r requirements-nodeps.txt
    python3 -m pip install -q --no-deps -e .
  fi
  # The tools' subprocesses import sph_embed from the installed location:
  # make it this checkout (a machine may hold another one's editable install).
  # Asked from / : here, the checkout's own directory would answer.
  local checkout="$PWD"
  if ! (cd / && python3 -c "import os, sys, sph_embed; raise SystemExit(\
os.path.dirname(os.path.dirname(os.path.realpath(sph_embed.__file__))) \
!= os.path.realpath(sys.argv[1]))" "$checkout") 2>/dev/null; then
    echo "[bootstrap] installing this checkout of sph_embed"
    python3 -m pip install -q --no-deps -e .
  fi
}

install_debian_packages
install_python_packages
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}"

case "$action" in
  test)
    # pytest exits 5 when it collected no test: that must fail, and does,
    # because set -e propagates any non-zero exit.  Two processes, a test
    # file each at a time (its classes share their set-up): many tests wait
    # on tool subprocesses starting TensorFlow on one core (BUILD_NOTES.md,
    # "Build and pinned versions").  Files in collection order, where
    # tests/conftest.py puts the long ones first.
    exec python3 -m pytest -q -rs -n 2 --dist loadfile --no-loadscope-reorder \
      tests "$@"
    ;;
  pipeline)
    exec python3 tools/pipeline.py "$@"
    ;;
  *)
    echo "usage: bash tools/bootstrap.sh {test|pipeline} [args...]" >&2
    exit 2
    ;;
esac
