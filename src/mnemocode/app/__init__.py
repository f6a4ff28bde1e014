"""The application: ``build_app`` turns Settings into working objects and front ends
talk to the ``App`` it returns; nothing else reads Settings."""

from mnemocode.app.build import build_app
from mnemocode.app.models import probe_model
from mnemocode.app.projects import project_state_dir, resolve_project
from mnemocode.app.session import App

__all__ = ["App", "build_app", "probe_model", "project_state_dir", "resolve_project"]
