"""Old path of clinic.rasa.patches, kept for the venv's clinic_rasa_patches.pth until it is reinstalled."""
from clinic.rasa.patches import install  # noqa: F401
