from setuptools import find_packages, setup

setup(
    name="pranc-codec",
    version="0.1.0",
    description=("PRANC image compression: latent grids decoded by small networks whose "
                 "weights are coefficients of a seeded random basis (a Cool-chic-style "
                 "neural codec, format v2)"),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # every package under pranc_codec/, found, not listed, so none is left out
    # of a wheel; kernels/ is top level in the repository but installs inside
    # the package, so no generic top-level "kernels" lands in site-packages.
    packages=find_packages(include=["pranc_codec", "pranc_codec.*"]) + ["pranc_codec.kernels"],
    package_dir={"pranc_codec": "pranc_codec", "pranc_codec.kernels": "kernels"},
    # The loosest requirements the codec is tested with: it installs beside a
    # user's own torch (a CUDA build included) and the triton that torch
    # requires. The exact pins of this repository's .venv (torch's CPU build)
    # are in constraints.txt, which the Makefile applies.
    install_requires=[
        "torch>=2.13",
        "triton>=3.7; platform_system == 'Linux'",  # the GPU kernels; wheels exist for Linux
        "numpy",
        "pillow>=11",  # ImageFile._Tile, which the Pillow plugin builds
        "scikit-image",
        "pytorch-msssim",
        "constriction>=0.4",
        "numba>=0.60",
        "tqdm",
        "threadpoolctl",  # the decoder's bands in threads, each product on one BLAS thread
    ],
    extras_require={
        # benchmarks/: plots and the Bjontegaard integrals
        "bench": ["matplotlib", "scipy", "pillow-jxl-plugin"],
        # pranc-codec batch --ray: files as tasks on a Ray cluster
        "ray": ["ray"],
        # setuptools: tests/test_layout.py builds a wheel without build isolation;
        # django: its get_image_dimensions reads a .prc through Pillow's parser
        "test": ["pytest", "hypothesis", "matplotlib", "scipy", "ray", "setuptools>=70.1",
                 "django", "pillow-jxl-plugin"],
    },
    entry_points={"console_scripts": ["pranc-codec=pranc_codec.cli:main"]},
)
