"""The JSON-LD `@context` URLs of the messages and documents the backend produces."""

PROTO = "https://github.com/hello-nrfcloud/proto/"

DEVICE_IDENTITY = PROTO + "deviceIdentity"
SHADOW = PROTO + "shadow"
JOB_EXECUTION = PROTO + "fota/job-execution"
JOB_EXECUTIONS = PROTO + "fota/job-executions"
HEALTH = PROTO + "api/health"
PROBLEM_DETAIL = PROTO + "ProblemDetail"
OBJECT_UPDATE = PROTO + "lwm2m/object/update"
SENML_IMPORTS = PROTO + "senml/imports"
LWM2M_OBJECT_HISTORY = PROTO + "lwm2m/object/history"
