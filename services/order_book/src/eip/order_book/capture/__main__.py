import sys

from eip.order_book.capture.cli import main

sys.exit(main())
