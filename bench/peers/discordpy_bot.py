#!/usr/bin/python3
"""Peer bot for the CPU benchmark: discord.py doing what fluxbot does for /stats and a PNG result."""
import io, json, os, struct, urllib.request, zlib

import yarl
import discord
from discord import app_commands

base = os.environ["DISCORD_API_BASE"].rstrip("/")
token = os.environ["DISCORD_TOKEN"]
# discord.py has no setting for the API or gateway address; point both at the fake Discord.
# It connects to its built-in gateway address (as Discord documents it may), so ask the fake's
# GET /gateway/bot for the real one, as fluxbot does.
discord.http.Route.BASE = base
req = urllib.request.Request(base + "/gateway/bot", headers={"Authorization": "Bot " + token})
with urllib.request.urlopen(req, timeout=10) as r:
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(json.load(r)["url"])

def png(w=64, h=64):
    rows = b"".join(b"\x00" + b"".join(bytes((x * 4 % 256, y * 4 % 256, 128)) for x in range(w)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")

PNG = png()
intents = discord.Intents.none()
intents.guilds = True
client = discord.Client(intents=intents)
tree = app_commands.CommandTree(client)

@tree.command(name="stats", description="Usage statistics")
@app_commands.describe(days="days")
async def stats(interaction: discord.Interaction, days: int = 7):
    await interaction.response.defer(ephemeral=True)
    e = discord.Embed(title=f"Statistics, last {days} days")
    for n in ("Total Images", "Average Generation Time", "Total Videos", "Average Video Time",
              "Total Commands", "Popular Commands", "Total Users", "Active Users"):
        e.add_field(name=n, value="0")
    await interaction.edit_original_response(embed=e)

@tree.command(name="comfy", description="Generate")
async def comfy(interaction: discord.Interaction, prompt: str, resolution: str = "1024x1024"):
    await interaction.response.defer()
    e = discord.Embed(title="Result", description=prompt[:200])
    await interaction.edit_original_response(embed=e, attachments=[discord.File(io.BytesIO(PNG), "result.png")])

@client.event
async def on_ready():
    await tree.sync()
    print("peer bot ready", flush=True)

client.run(token, log_handler=None)
