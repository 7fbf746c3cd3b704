from setuptools import find_packages, setup

setup(
    name="pranc-codec",
    version="0.1.0",
    description="PRANC image compression: images as seeded random-basis coefficients of a SIREN",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # every package under pranc_codec/, found, not listed, so none is left out
    # of a wheel; kernels/ is top level in the repository but installs inside
    # the package, so no generic top-level "kernels" lands in site-packages.
    packages=find_packages(include=["pranc_codec", "pranc_codec.*"]) + ["pranc_codec.kernels"],
    package_dir={"pranc_codec": "pranc_codec", "pranc_codec.kernels": "kernels"},
    install_requires=[
        # Pinned to the CPU build on local disk; a looser spec pulls a CUDA build.
        "torch==2.13.0",
        "triton==3.7.1",
        "numpy",
        "pillow>=10.1",
        "scikit-image",
        "pytorch-msssim",
        "constriction>=0.4",
        "numba>=0.60",
        "tqdm",
    ],
    extras_require={
        # benchmarks/: plots and the Bjontegaard integrals
        "bench": ["matplotlib", "scipy"],
        # pranc-codec batch --ray: files as tasks on a Ray cluster
        "ray": ["ray"],
        # setuptools: tests/test_layout.py builds a wheel without build isolation
        "test": ["pytest", "hypothesis", "matplotlib", "scipy", "ray", "setuptools>=70.1"],
    },
    entry_points={"console_scripts": ["pranc-codec=pranc_codec.cli:main"]},
)
