"""journeys_core: the Lambda layer of the journeys service.

Layers point downward only: ``models`` (pydantic) -> ``domain`` (pure logic, no AWS) ->
``data`` (the only code that talks to DynamoDB / EventBridge / SES) -> ``services``
(use cases the handlers call) -> ``http`` (resolver factory, auth, error mapping).
"""
