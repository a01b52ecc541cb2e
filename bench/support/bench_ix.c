#include "bench_ix.h"

const char bench_ix_stats[] =
    "{\"app_permissions\":\"562949953421311\",\"application_id\":\"987654321098765432\","
    "\"authorizing_integration_owners\":{\"0\":\"111111111111111111\"},\"channel\":{\"flags\":0,"
    "\"guild_id\":\"111111111111111111\",\"id\":\"222222222222222222\",\"last_message_id\":"
    "\"1300000000000000000\",\"name\":\"bot-commands\",\"nsfw\":false,\"parent_id\":"
    "\"333333333333333333\",\"permissions\":\"562949953421311\",\"position\":3,"
    "\"rate_limit_per_user\":0,\"topic\":null,\"type\":0},\"channel_id\":\"222222222222222222\","
    "\"context\":0,\"data\":{\"id\":\"666666666666666666\",\"name\":\"stats\",\"options\":[{"
    "\"name\":\"days\",\"type\":4,\"value\":7}],\"type\":1},\"entitlement_sku_ids\":[],"
    "\"entitlements\":[],\"guild\":{\"features\":[\"COMMUNITY\",\"NEWS\"],\"id\":"
    "\"111111111111111111\",\"locale\":\"en-US\"},\"guild_id\":\"111111111111111111\","
    "\"guild_locale\":\"en-US\",\"id\":\"1234567890123456789\",\"locale\":\"en-GB\",\"member\":{"
    "\"avatar\":null,\"banner\":null,\"communication_disabled_until\":null,\"deaf\":false,"
    "\"flags\":0,\"joined_at\":\"2024-01-02T03:04:05.678000+00:00\",\"mute\":false,\"nick\":null,"
    "\"pending\":false,\"permissions\":\"562949953421311\",\"premium_since\":null,\"roles\":["
    "\"444444444444444444\",\"555555555555555555\"],\"unusual_dm_activity_until\":null,\"user\":{"
    "\"avatar\":\"0123456789abcdef0123456789abcdef\",\"avatar_decoration_data\":null,"
    "\"clan\":null,\"discriminator\":\"0\",\"global_name\":\"Ann \\u00e9\",\"id\":"
    "\"333333333333333333\",\"public_flags\":0,\"username\":\"ann\"}},\"token\":"
    "\"aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWjAxMjM0NTY3"
    "ODlhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODlBQkNERUZHSElKS0xNTk9QUVJTVFVW\","
    "\"type\":2,\"version\":1}";

const size_t bench_ix_stats_len = sizeof bench_ix_stats - 1;
