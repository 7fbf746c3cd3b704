"""PRANC's half, which both formats share: networks' weights as theta0 + B @ alpha.

- ``groups``: coefficient groups and the seeded basis in numpy (the decoders');
- ``product``: the same product in torch, with its gradient, a basis cache
  and the Triton kernels (what a fit differentiates);
- ``philox``: Philox4x32-10 in torch, bit for bit Triton's (the CPU
  generator, in numpy and numba, is ``pranc_codec.kernels.philox_cpu``);
- ``netweights``: format v2's weights in integers, exact on every platform;
- ``coefficients``: quantization and range coding of the coefficients;
- ``fitting``: the learning-rate curve and straight-through quantization.
"""
