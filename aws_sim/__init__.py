"""AWS as moto simulates it here: the patches that make moto behave like AWS where the
service relies on it, applied alike by the tests (``mock_aws``), the local stack (moto's
server) and the benchmarks."""
