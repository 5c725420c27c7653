"""Bidding: the flexibility each pool can offer per ISP."""

import dagster as dg

from assets.bidding.flexibility import pool_flex_isp

defs = dg.Definitions(assets=[pool_flex_isp])
