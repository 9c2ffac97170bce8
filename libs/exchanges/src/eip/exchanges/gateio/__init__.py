"""Gate.io: spot v4 ``spot.order_book_update`` books (REST snapshot + ``U``/``u`` ids), for
replaying captures; the order book calls the venue ``gate``, ccxt's id. Live market data and
live books go through the generic ccxt adapter. Registered in ``eip.exchanges.registry``."""
