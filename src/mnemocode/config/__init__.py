"""Settings (pydantic), layered loading, paths, and editing config files."""

from mnemocode.config.loader import (
    ENV_ALIASES,
    NON_CONFIG_ENV_VARS,
    LoadedSettings,
    deep_merge,
    load_settings,
)
from mnemocode.config.paths import (
    find_project_root,
    global_config_path,
    mnemo_home,
    project_config_paths,
)
from mnemocode.config.settings import (
    AgentConfig,
    MemoryConfig,
    ModelConfig,
    RuntimeConfig,
    SafetyConfig,
    Settings,
    ToolsConfig,
)
from mnemocode.config.writer import atomic_write_text, set_active_model, write_model_config

__all__ = [
    "ENV_ALIASES",
    "NON_CONFIG_ENV_VARS",
    "AgentConfig",
    "LoadedSettings",
    "MemoryConfig",
    "ModelConfig",
    "RuntimeConfig",
    "SafetyConfig",
    "Settings",
    "ToolsConfig",
    "atomic_write_text",
    "deep_merge",
    "find_project_root",
    "global_config_path",
    "load_settings",
    "mnemo_home",
    "project_config_paths",
    "set_active_model",
    "write_model_config",
]
