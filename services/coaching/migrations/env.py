from services.coaching import plan_models, record_models  # noqa: F401  (their tables join the metadata)
from services.coaching.models import CoachingBase
from shared.migrations import run_env

run_env(CoachingBase.metadata)
