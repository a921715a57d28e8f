"""The JSON-LD `@context` URLs of the messages and documents the backend produces."""

PROTO = "https://github.com/hello-nrfcloud/proto/"

DEVICE_IDENTITY = PROTO + "deviceIdentity"
SHADOW = PROTO + "shadow"
JOB_EXECUTION = PROTO + "fota/job-execution"
JOB_EXECUTIONS = PROTO + "fota/job-executions"
HEALTH = PROTO + "api/health"
PROBLEM_DETAIL = PROTO + "ProblemDetail"
FOTA_JOB = PROTO + "fota/job"
FOTA_JOBS = PROTO + "fota/jobs"
FOTA_BUNDLE = PROTO + "fota/bundle"
FOTA_BUNDLES = PROTO + "fota/bundles"
