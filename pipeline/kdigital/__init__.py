"""kdigital: letters, cost sheets and agreements for the Kompetenzcenter kommunal digital."""

__version__ = "0.1.0"
