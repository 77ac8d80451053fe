"""Docker-free local stack: the SAM template served by in-process handlers over moto.

Modules:
    template  -- template.yaml as the one source of truth (resources, routes, environment)
    lambdas   -- importing handlers from ``functions/<dir>/`` and a fake Lambda context
    gateway   -- API Gateway HTTP API (payload v2.0) emulation with a JWT authorizer
    tokens    -- development JWTs the gateway accepts
    embedded_aws -- moto in a thread, fake credentials, the functions' merged environment
    server    -- ``python -m local_stack.server``: the whole API on one port
    invoke    -- ``python -m local_stack.invoke``: the Docker-free ``sam local invoke``
"""
