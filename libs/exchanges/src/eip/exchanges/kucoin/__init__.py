"""KuCoin: spot ``/market/level2`` books (REST snapshot + ``trade.l2update`` sequences), for
replaying captures. Live market data and live books go through the generic ccxt adapter (the
live socket needs the POST ``bullet-public`` token). Registered in ``eip.exchanges.registry``."""
