"""Tanya's server: the chat page and the OpenAI-compatible API on one port (see qa/server/app.py).

python app.py [--host 127.0.0.1] [--port 7860] [--index-dir index] [--allow-anonymous]
"""

import sys

from qa.server.app import main

if __name__ == "__main__":
    sys.exit(main())
