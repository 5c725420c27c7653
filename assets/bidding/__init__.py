"""Bidding: the flexibility each pool can offer per ISP, and the bids that offer it."""

import dagster as dg

from assets.bidding.bids import tso_bids
from assets.bidding.flexibility import pool_flex_isp

defs = dg.Definitions(assets=[pool_flex_isp, tso_bids])
