from shared.migrations import run_env
from shared.platform import PlatformBase

run_env(PlatformBase.metadata)
