/* fluxbot entry point (placeholder until the runtime and actors are wired). */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    const char *token = getenv("DISCORD_TOKEN");
    if (!token || !*token) {
        fprintf(stderr, "fluxbot: DISCORD_TOKEN is not set. Set DISCORD_TOKEN and COMFYUI_URLS "
                        "to run the bot.\n");
        return 2;
    }
    return 0;
}
