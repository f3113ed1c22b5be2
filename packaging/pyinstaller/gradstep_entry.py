"""The desktop bundle's executable: the gradstep command, which also answers
``-m gradstep.worker`` (see gradstep.frozen) since in a bundle sys.executable is this app."""

import sys

from gradstep.frozen import main

if __name__ == "__main__":
    sys.exit(main())
