"""The dashboard's pages, a module each: its routes and the handlers behind them."""
