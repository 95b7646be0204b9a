"""Prepared shot shards: build (`dubclr shards build`, on Ray Data), index and random-access reader."""
