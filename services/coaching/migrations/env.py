from services.coaching.models import CoachingBase
from shared.migrations import run_env

run_env(CoachingBase.metadata)
