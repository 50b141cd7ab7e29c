"""The one place settings read the environment.

Every variable is listed, with a comment, in `.env.example`. A `.env` file beside
manage.py is read when present, so a developer can keep local values out of the shell.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_dotenv = BASE_DIR / ".env"
if _dotenv.exists():
    environ.Env.read_env(str(_dotenv), overwrite=False)
