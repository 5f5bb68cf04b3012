"""sph_embed: Cross-Domain 3D Equivariant Image Embeddings in TF2/Keras."""

import pathlib

import setuptools

_HERE = pathlib.Path(__file__).parent


def _requirements(name):
  lines = (_HERE / name).read_text().splitlines()
  return [l.strip() for l in lines if l.strip() and not l.startswith("#")]


setuptools.setup(
    name="sph_embed",
    version="0.1.0",
    description=("SO(3)-equivariant image embeddings from a spherical CNN "
                 "teacher (Esteves et al., ICML 2019)"),
    long_description=(_HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["sph_embed", "sph_embed.*"]),
    python_requires=">=3.10",
    # tensorflow-graphics must be installed with --no-deps
    # (requirements-nodeps.txt), so it is not listed here.
    install_requires=[r for r in _requirements("requirements.txt")
                      if not r.startswith("pytest")],
    # The CUDA build of the same TensorFlow (CUDA 12 and cuDNN 9 wheels from
    # PyPI; a recent NVIDIA driver is all the machine needs):
    #   pip install ".[gpu]"
    extras_require={"test": ["pytest", "pytest-xdist==3.8.0"],
                    "gpu": ["tensorflow[and-cuda]==2.21.0"]},
    # The experiment configs (tools/reproduce.py --experiment=<name>).
    package_data={"sph_embed.experiments": ["configs/*.json"]},
)
