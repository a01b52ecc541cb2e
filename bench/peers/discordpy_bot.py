#!/usr/bin/python3
"""Peer bot for the CPU benchmark (bench_peers): discord.py doing fluxbot's work per interaction.

/stats: a deferral and an embed edit of @original.
/comfy: what the Python bot fluxbot replaces did for a generation, with the Discord calls
fluxbot makes for one: a deferral; the first progress line (then at most one edit per 1.5 s,
only when its text changed, as fluxbot's progress_interval_ms); the workflow patched and
queued with POST /prompt (our client_id and a prompt_id of our own); its events followed on
the one ComfyUI websocket (/ws?clientId=) until `executing` with node null; the outputs taken
from the `executed` frames when `execution_success` came with them (GET /history/{id} only
otherwise, as fluxbot); GET /view for the image; a copy kept in the output folder; the result as one multipart edit
of @original (embed, file, buttons).

Everything runs on discord.py's event loop and HTTP session (its aiohttp), no threads.
Environment: DISCORD_TOKEN, DISCORD_API_BASE (the fake Discord), COMFYUI_URLS (the first one
is used; without it /comfy answers that no server is set up), PEER_WORKFLOW (the API-format
workflow; default workflows/flux_txt2img.json beside this repository), PEER_OUTPUT_DIR
(where results are kept; none: not kept).
"""
import asyncio, io, json, os, random, re, time, urllib.parse, urllib.request, uuid

import aiohttp
import yarl
import discord
from discord import app_commands

base = os.environ["DISCORD_API_BASE"].rstrip("/")
token = os.environ["DISCORD_TOKEN"]
comfy_url = (os.environ.get("COMFYUI_URLS") or "").split(",")[0].strip().rstrip("/")
output_dir = os.environ.get("PEER_OUTPUT_DIR") or ""
here = os.path.dirname(os.path.abspath(__file__))
workflow_path = os.environ.get("PEER_WORKFLOW") or os.path.join(here, "..", "..", "workflows",
                                                                 "flux_txt2img.json")
PROGRESS_INTERVAL = 1.5  # s, fluxbot's default progress_interval_ms
HTTP_TIMEOUT = 120  # s, as the original bot's urllib calls
SILENCE = 30  # s without the job's end on the websocket before its history is asked for

# discord.py has no setting for the API or gateway address; point both at the fake Discord.
# It connects to its built-in gateway address (as Discord documents it may), so ask the fake's
# GET /gateway/bot for the real one, as fluxbot does.
discord.http.Route.BASE = base
req = urllib.request.Request(base + "/gateway/bot", headers={"Authorization": "Bot " + token})
with urllib.request.urlopen(req, timeout=10) as r:
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(json.load(r)["url"])

# The workflow, parsed per job from its text (a fresh graph to patch), and the nodes each value
# goes to, found by class_type as the workflow's map file names them.
with open(workflow_path, encoding="utf-8") as f:
    WORKFLOW_TEXT = f.read()


def nodes_of(graph, class_type):
    return [k for k, n in graph.items() if n.get("class_type") == class_type]


_g = json.loads(WORKFLOW_TEXT)
PATCHES = {
    "text": [(k, "text") for k in nodes_of(_g, "CLIPTextEncode")][:1],
    "seed": [(k, "noise_seed") for k in nodes_of(_g, "RandomNoise")],
    "width": [(k, "width") for c in ("EmptySD3LatentImage", "ModelSamplingFlux") for k in nodes_of(_g, c)],
    "height": [(k, "height") for c in ("EmptySD3LatentImage", "ModelSamplingFlux") for k in nodes_of(_g, c)],
    "scale": [(k, "scale_by") for k in nodes_of(_g, "ImageScaleBy")],
    "prefix": [(k, "filename_prefix") for k in nodes_of(_g, "SaveImage")],
}
del _g

intents = discord.Intents.none()
intents.guilds = True
client = discord.Client(intents=intents)
tree = app_commands.CommandTree(client)
CLIENT_ID = uuid.uuid4().hex  # one per bot process, one websocket, jobs told apart by prompt_id
jobs = {}  # prompt_id -> Job, registered before the POST: events may beat its answer
job_seq = 0


def session():
    # discord.py's own aiohttp session (created at login), which its interactions use too
    return client.http._HTTPClient__session


class Job:
    def __init__(self, interaction, prompt, resolution):
        global job_seq
        job_seq += 1
        self.id = job_seq
        self.ix = interaction
        self.prompt = prompt
        self.resolution = resolution
        self.seed = random.randrange(2 ** 53)
        self.pid = str(uuid.uuid4())
        self.done = asyncio.get_running_loop().create_future()
        self.phase = "preparing"
        self.value = self.max = 0
        self.last_text = None
        self.last_sent = 0.0
        self.edit_task = None  # the progress edit in flight (the result waits for it)
        self.outputs = {}  # node id -> its `executed` output
        self.success = False
        self.started = time.monotonic()

    def text(self):
        pct = {"preparing": 0, "queued": 0, "loading": 5, "finishing": 95, "sending": 100}.get(
            self.phase, 5 + 90 * self.value // self.max if self.max else 5)
        head = {"preparing": "\U0001f4e5 Preparing your image", "queued": "\u23f3 In queue",
                "loading": "\u2699\ufe0f Loading models", "finishing": "\U0001f50d Finishing",
                "sending": "\U0001f4e4 Sending your image"}.get(
            self.phase, f"\U0001f3a8 Generating \u00b7 step {self.value}/{self.max}")
        bar = "\u2588" * (pct // 5) + "\u2591" * (20 - pct // 5)
        return f"{head}\n`{bar}` {pct}%"

    def progress(self):
        """Edits the progress line when its text changed and the last edit is old enough."""
        text, now = self.text(), time.monotonic()
        if self.last_text is not None and (text == self.last_text or now < self.last_sent + PROGRESS_INTERVAL):
            return
        if self.edit_task and not self.edit_task.done():
            return  # one edit at a time per message, the next change comes with a later event
        self.last_text, self.last_sent = text, now
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(style=discord.ButtonStyle.danger, label="Cancel", emoji="\u2716\ufe0f",
                                        custom_id=f"fb:cancel:{self.id}:{self.ix.user.id}"))
        self.edit_task = asyncio.create_task(self.ix.edit_original_response(content=text, view=view))

    def event(self, kind, data):
        if kind == "execution_start":
            self.phase = "loading"
        elif kind == "progress":
            self.value, self.max = int(data.get("value", 0)), int(data.get("max", 0))
            self.phase = "finishing" if self.max and self.value >= self.max else "sampling"
        elif kind == "executed" and isinstance(data.get("output"), dict):
            self.outputs[str(data.get("node"))] = data["output"]
        elif kind == "execution_success":
            self.success = True
        elif kind == "executing" and data.get("node") is None:
            if not self.done.done():
                self.done.set_result(None)
            return
        elif kind in ("execution_error", "execution_interrupted"):
            if not self.done.done():
                self.done.set_exception(RuntimeError(data.get("exception_message") or "interrupted"))
            return
        self.progress()


async def comfy_events():
    """The one websocket to ComfyUI: every job's events, by prompt_id; reconnects after a drop."""
    delay = 1.0
    while True:
        try:
            async with session().ws_connect(f"{comfy_url}/ws?clientId={CLIENT_ID}") as ws:
                delay = 1.0
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue  # binary previews
                    try:  # a frame that is not a well-formed event is skipped, never fatal
                        m = json.loads(msg.data)
                        data = m.get("data")
                        job = jobs.get(data.get("prompt_id")) if isinstance(data, dict) else None
                        if job:
                            job.event(m.get("type"), data)
                    except (ValueError, TypeError, AttributeError):
                        continue
        except (OSError, aiohttp.ClientError, asyncio.TimeoutError) as e:
            print(f"comfy websocket: {e!r}", flush=True)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)


async def comfy_json(method, path, body=None):
    async with session().request(method, comfy_url + path, json=body,
                                 timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT)) as r:
        data = await r.json(content_type=None)
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {data}")
        return data


async def run_job(job):
    m = re.fullmatch(r"(\d+)x(\d+)", job.resolution or "")
    w, h = (int(m.group(1)), int(m.group(2))) if m else (1024, 1024)
    graph = json.loads(WORKFLOW_TEXT)
    for key, value in (("text", job.prompt), ("seed", job.seed), ("width", w), ("height", h),
                       ("scale", 1.0), ("prefix", f"peer_{job.id}")):
        for node, name in PATCHES[key]:
            graph[node]["inputs"][name] = value
    jobs[job.pid] = job
    try:
        sub = await comfy_json("POST", "/prompt", {"prompt": graph, "client_id": CLIENT_ID,
                                                   "prompt_id": job.pid})
        if sub.get("prompt_id") != job.pid:  # an older server chose its own id
            jobs.pop(job.pid, None)
            job.pid = sub["prompt_id"]
            jobs[job.pid] = job
        if job.phase == "preparing":
            job.phase = "queued"
            job.progress()
        while True:  # the websocket says when it is done; after a silence, ask the history
            try:
                await asyncio.wait_for(asyncio.shield(job.done), SILENCE)
                break
            except asyncio.TimeoutError:
                if job.pid in await comfy_json("GET", f"/history/{job.pid}"):
                    break
    finally:
        jobs.pop(job.pid, None)
    if job.success and any(o.get("images") for o in job.outputs.values()):
        hist = {"outputs": job.outputs}  # the websocket told all of it: no history round trip
    else:
        hist = (await comfy_json("GET", f"/history/{job.pid}")).get(job.pid) or {}
    image = None
    for out in (hist.get("outputs") or {}).values():
        for im in out.get("images") or []:
            if not im.get("filename", "").startswith("ComfyUI_temp"):
                image = im
    if not image:
        raise RuntimeError("ComfyUI finished but produced no output file.")
    q = urllib.parse.urlencode({"filename": image["filename"], "subfolder": image.get("subfolder", ""),
                                "type": image.get("type", "output")})
    async with session().get(f"{comfy_url}/view?{q}",
                             timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT)) as r:
        if r.status != 200:
            raise RuntimeError(f"GET /view: {r.status}")
        png = await r.read()
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise RuntimeError("the output is not a PNG")
    name = image["filename"]
    if output_dir:  # a copy kept, written whole under a temporary name, then renamed
        os.makedirs(output_dir, exist_ok=True)
        path = os.path.join(output_dir, os.path.basename(name))
        with open(path + ".part", "wb") as f:
            f.write(png)
        os.replace(path + ".part", path)
    return name, png


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
    job = Job(interaction, prompt, resolution)
    job.progress()
    try:
        if not comfy_url:
            raise RuntimeError("no ComfyUI server is set up")
        name, png = await run_job(job)
    except Exception as e:  # the user reads what went wrong, as in the original bot
        if job.edit_task:
            await asyncio.gather(job.edit_task, return_exceptions=True)
        await interaction.edit_original_response(content=f"\u274c Error: {e}", view=None)
        return
    if job.edit_task:  # the result must be the last edit of the message
        await asyncio.gather(job.edit_task, return_exceptions=True)
    e = discord.Embed(title=f"Image generated for {interaction.user.name}",
                      description=f"\U0001f3a8 {prompt}", colour=0x5865F2)
    e.add_field(name="Resolution", value=resolution)
    e.add_field(name="Seed", value=str(job.seed))
    e.add_field(name="LoRAs", value="none", inline=False)
    e.add_field(name="Time", value=f"{max(1, round(time.monotonic() - job.started))} s")
    e.set_image(url=f"attachment://{name}")
    view = discord.ui.View(timeout=None)
    owner = interaction.user.id
    view.add_item(discord.ui.Button(style=discord.ButtonStyle.primary, label="Regenerate", emoji="\u267b\ufe0f",
                                    custom_id=f"fb:regen:{job.id}"))
    view.add_item(discord.ui.Button(label="Options", emoji="\u2699\ufe0f", custom_id=f"fb:opt:{job.id}:{owner}"))
    view.add_item(discord.ui.Button(style=discord.ButtonStyle.danger, label="Delete", emoji="\U0001f5d1\ufe0f",
                                    custom_id=f"fb:del:{job.id}:{owner}"))
    await interaction.edit_original_response(content="", embed=e, view=view,
                                             attachments=[discord.File(io.BytesIO(png), name)])


@client.event
async def setup_hook():
    if comfy_url:
        client.loop.create_task(comfy_events())


@client.event
async def on_ready():
    await tree.sync()
    print("peer bot ready", flush=True)


client.run(token, log_handler=None)
