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
    extras_require={"test": ["pytest"]},
)
