import sys

from eip.exchanges.machinery.book_capture import main

sys.exit(main())
