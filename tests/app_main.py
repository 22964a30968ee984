"""The app as the NiceGUI `user` fixture runs it: settings from the environment the test set."""

from simulator.app import run_app
from simulator.config import Settings
from simulator.store import open_store

settings = Settings.from_env().ensure_data_dir()
run_app(settings, open_store(settings.database_url, seed_secret=settings.seed_secret))
