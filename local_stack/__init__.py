"""Docker-free local stack: the SAM template served by in-process handlers over moto.

Modules:
    template  -- template.yaml as the one source of truth (resources, routes, environment)
    lambdas   -- importing handlers from ``functions/<dir>/`` and a fake Lambda context
    gateway   -- API Gateway HTTP API (payload v2.0) emulation with a JWT authorizer, as WSGI
    tokens    -- development JWTs the gateway accepts
    embedded_aws -- moto in a thread, fake credentials, the functions' merged environment
    event_sources -- what triggers each function besides HTTP, as the template declares it
    pollers   -- those sources delivered to the functions, as Lambda's event sources deliver
    lambda_events -- the events Lambda hands functions for those sources
    server    -- ``python -m local_stack.server``: the whole API on one port, and the pollers
    invoke    -- ``python -m local_stack.invoke``: the Docker-free ``sam local invoke``
"""
