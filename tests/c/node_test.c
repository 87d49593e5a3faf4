/*
 * The C API against a real devnet: a child process running the `devnet-for-bindings` example
 * (its path in PORTAL_STATE_DEVNET). Starts a light node, trusts the holesky genesis head,
 * checks verified account, storage and code answers against data/genesis/holesky.json, runs
 * contract calls through the network, checks typed errors (null, bad UTF-8, malformed address,
 * unknown block, a panic inside a call, a stopped node) and frees everything.
 *
 * Built by scripts/test.sh: gcc -Wall -Wextra -Werror -std=c11 against include/portal_state.h
 * and the static library. Run from the repository root (the devnet reads data/genesis).
 */
#define _POSIX_C_SOURCE 200809L

#include "portal_state.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

/* From data/genesis/holesky.json. */
#define DEPOSIT "0x4242424242424242424242424242424242424242"
#define WHALE "0xD3994e4d3202dD23c8497d7F75bF1647d1DA1bb1"
#define WHALE_BALANCE_DECIMAL "500000000000000000000000000"
#define WHALE_BALANCE_HEX "0000000000000000000000000000000000000000019d971e4fe8401e74000000"
#define DEPOSIT_SLOT_22 "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
#define DEPOSIT_CODE_PREFIX "60806040526004361061003f57600035"
#define DEPOSIT_CODE_BYTES 6358
#define DEPOSIT_ROOT "d70a234731285c6804c2a4f56711ddb8c82c99740f207854891028af34e27e5e"
/* The beacon light client over the devnet's REST server ("beacon_api"), which serves the real
 * mainnet Deneb objects of portal-spec-tests: the checkpoint, and what they prove (see
 * tests/beacon_light_client.rs, which checks them against the execution branches). */
#define BEACON_CHECKPOINT "0x33d75f8506929d950a6d9e43508e92e50a072a39978821900e3a2e261f80ddbf"
#define BEACON_FINALIZED_SLOT 10248384
#define BEACON_OPTIMISTIC_SLOT 10248457
#define BEACON_FINALIZED_BLOCK 21038093
#define BEACON_OPTIMISTIC_BLOCK 21038166
/* node::PANIC_IN_CALL: with the fault-injection feature, a call with this calldata panics. */
#define PANIC_IN_CALL "portal-state:panic-in-call"

static int failures = 0;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);       \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

/* A call that must succeed; on failure print the code and message and give up. */
#define MUST(call)                                                                         \
    do {                                                                                   \
        PortalStateError must_code = (call);                                               \
        if (must_code != PORTAL_STATE_ERROR_OK) {                                          \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,       \
                    portal_state_error_name(must_code), portal_state_last_error_message()); \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* A call that must fail with `expected` and a message containing `needle`. */
static void expect_error(PortalStateError code, PortalStateError expected, const char *needle,
                         const char *what) {
    const char *message = portal_state_last_error_message();
    if (code != expected) {
        fprintf(stderr, "%s: expected %s, got %s (%s)\n", what, portal_state_error_name(expected),
                portal_state_error_name(code), message ? message : "no message");
        failures++;
        return;
    }
    if (message == NULL || strstr(message, needle) == NULL) {
        fprintf(stderr, "%s: message %s lacks \"%s\"\n", what, message ? message : "(null)",
                needle);
        failures++;
    }
}

static void to_hex(const uint8_t *bytes, size_t len, char *out) {
    for (size_t i = 0; i < len; i++) sprintf(out + 2 * i, "%02x", bytes[i]);
    out[2 * len] = '\0';
}

static int hex_equals(const uint8_t *bytes, size_t len, const char *hex) {
    char buffer[2 * 64 + 1];
    if (len > 64 || strlen(hex) != 2 * len) return 0;
    to_hex(bytes, len, buffer);
    return strcmp(buffer, hex) == 0;
}

static uint8_t *from_hex(const char *hex, size_t *len) {
    size_t digits = strcspn(hex, "\"");
    uint8_t *out = malloc(digits / 2 + 1);
    for (size_t i = 0; i < digits / 2; i++) {
        unsigned int byte;
        sscanf(hex + 2 * i, "%2x", &byte);
        out[i] = (uint8_t)byte;
    }
    *len = digits / 2;
    return out;
}

/* The devnet: a child whose stdin we hold open (EOF stops it) and its first stdout line. */
typedef struct {
    pid_t pid;
    int stdin_fd;
    char line[64 * 1024];
} Devnet;

static void devnet_start(Devnet *devnet, const char *binary) {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
        perror("pipe");
        exit(1);
    }
    devnet->pid = fork();
    if (devnet->pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[1]);
        close(from_child[0]);
        execl(binary, binary, (char *)NULL);
        perror("exec devnet");
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    devnet->stdin_fd = to_child[1];
    FILE *out = fdopen(from_child[0], "r");
    if (out == NULL || fgets(devnet->line, sizeof devnet->line, out) == NULL) {
        fprintf(stderr, "the devnet exited without printing its ENRs\n");
        exit(1);
    }
    fclose(out);
}

static void devnet_stop(Devnet *devnet) {
    int status;
    close(devnet->stdin_fd); /* EOF: the devnet stops its nodes and exits */
    waitpid(devnet->pid, &status, 0);
}

/* The "enr:…" strings of the devnet's JSON line (pointers into copies; caller frees). */
static size_t parse_bootnodes(const char *line, char **enrs, size_t max) {
    size_t n = 0;
    const char *p = line;
    while (n < max && (p = strstr(p, "\"enr:")) != NULL) {
        p++;
        size_t len = strcspn(p, "\"");
        enrs[n] = malloc(len + 1);
        memcpy(enrs[n], p, len);
        enrs[n][len] = '\0';
        n++;
        p += len;
    }
    return n;
}

/* A fresh node (no peers) whose light client follows the devnet's beacon REST server: the
 * light-client fields of the status, before and after the heads verify. */
static void light_client_status(const char *line) {
    const char *field = strstr(line, "\"beacon_api\":\"");
    CHECK(field != NULL);
    if (field == NULL) return;
    field += strlen("\"beacon_api\":\"");
    char url[128];
    size_t len = strcspn(field, "\"");
    CHECK(len < sizeof url);
    if (len >= sizeof url) return;
    memcpy(url, field, len);
    url[len] = '\0';

    char data_dir[] = "/tmp/portal-state-c-beacon-XXXXXX";
    CHECK(mkdtemp(data_dir) != NULL);
    PortalStateConfig config;
    MUST(portal_state_config_default(&config));
    config.data_dir = data_dir;
    config.storage_capacity_bytes = 0;
    PortalStateNode *node = NULL;
    MUST(portal_state_node_start(&config, &node));

    PortalStateStatus status;
    MUST(portal_state_node_status(node, &status));
    CHECK(!status.light_client_running && !status.has_light_client_heads);
    CHECK(status.finalized_slot == 0 && status.optimistic_block == 0);
    portal_state_status_free(&status);

    const char *urls[] = {url};
    MUST(portal_state_node_start_light_client(node, BEACON_CHECKPOINT, urls, 1));
    int synced = 0;
    for (int i = 0; i < 600 && !synced; i++) {
        MUST(portal_state_node_status(node, &status));
        CHECK(status.light_client_running);
        synced = status.has_light_client_heads &&
                 status.optimistic_block == BEACON_OPTIMISTIC_BLOCK;
        if (synced) {
            CHECK(status.finalized_slot == BEACON_FINALIZED_SLOT);
            CHECK(status.optimistic_slot == BEACON_OPTIMISTIC_SLOT);
            CHECK(status.finalized_block == BEACON_FINALIZED_BLOCK);
            CHECK(status.has_newest_block && status.newest_block == BEACON_OPTIMISTIC_BLOCK);
        }
        portal_state_status_free(&status);
        if (!synced) {
            struct timespec pause = {0, 50 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    CHECK(synced);
    MUST(portal_state_node_stop(node));
    portal_state_node_free(node);
    char remove_dir[128];
    snprintf(remove_dir, sizeof remove_dir, "rm -rf '%s'", data_dir);
    CHECK(system(remove_dir) == 0);
}

/* --- watch: against the devnet following a real anvil (`devnet-for-bindings --follow-anvil`) */

#define WATCHED "0x00000000000000000000000000000000000b0b05"
#define MAX_EVENTS 16

/* What the callback saw: copies of the events (the event is valid during the call only). */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t arrived;
    size_t count;
    PortalStateWatchEvent events[MAX_EVENTS];
    int wrong_thread;
    pthread_t caller;
} Heard;

static void on_change(const PortalStateWatchEvent *event, void *user_data) {
    Heard *heard = user_data;
    pthread_mutex_lock(&heard->lock);
    if (pthread_equal(pthread_self(), heard->caller)) heard->wrong_thread = 1;
    if (heard->count < MAX_EVENTS) {
        heard->events[heard->count] = *event;
        heard->events[heard->count].slots = NULL; /* not kept past the call */
        heard->count++;
    }
    pthread_cond_broadcast(&heard->arrived);
    pthread_mutex_unlock(&heard->lock);
}

/* The event at block `number` (waiting up to 60 s), skipping a baseline before it. */
static int event_at(Heard *heard, uint64_t number, PortalStateWatchEvent *out_event) {
    pthread_mutex_lock(&heard->lock);
    size_t seen = 0;
    int found = 0;
    while (!found) {
        for (; seen < heard->count; seen++) {
            if (heard->events[seen].account.block.number == number) {
                *out_event = heard->events[seen];
                found = 1;
                break;
            }
            CHECK(heard->events[seen].baseline);
        }
        if (found) break;
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 60;
        if (pthread_cond_timedwait(&heard->arrived, &heard->lock, &deadline) != 0) break;
    }
    pthread_mutex_unlock(&heard->lock);
    return found;
}

/* One line from the anvil devnet: {"number":N,"hash":"0x..","header_rlp":"0x..",...}. */
typedef struct {
    uint64_t number;
    char hash[67];
    uint8_t *header_rlp;
    size_t header_rlp_len;
    char balance[80];
} Pushed;

static void parse_pushed(const char *line, Pushed *pushed) {
    memset(pushed, 0, sizeof *pushed);
    const char *number = strstr(line, "\"number\":");
    const char *hash = strstr(line, "\"hash\":\"");
    const char *rlp = strstr(line, "\"header_rlp\":\"0x");
    if (number == NULL || hash == NULL || rlp == NULL) {
        fprintf(stderr, "not a block line: %s\n", line);
        exit(1);
    }
    pushed->number = strtoull(number + strlen("\"number\":"), NULL, 10);
    memcpy(pushed->hash, hash + strlen("\"hash\":\""), 66);
    pushed->header_rlp = from_hex(rlp + strlen("\"header_rlp\":\"0x"), &pushed->header_rlp_len);
    const char *balance = strstr(line, "\"balance\":\"");
    if (balance != NULL) {
        balance += strlen("\"balance\":\"");
        size_t len = strcspn(balance, "\"");
        if (len < sizeof pushed->balance) memcpy(pushed->balance, balance, len);
    }
}

static void send_transfer(FILE *to_devnet, FILE *from_devnet, const char *to, unsigned long wei,
                          Pushed *pushed) {
    static char line[64 * 1024];
    fprintf(to_devnet, "send %s %lu\n", to, wei);
    fflush(to_devnet);
    if (fgets(line, sizeof line, from_devnet) == NULL) {
        fprintf(stderr, "the anvil devnet exited\n");
        exit(1);
    }
    parse_pushed(line, pushed);
}

/* A light node watches a fresh account; anvil mines transfers to it; the callback hears each
 * verified balance at its block, on the node's watch thread, with our user_data; unwatch. */
static void watch_test(const char *binary) {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[1]);
        close(from_child[0]);
        execl(binary, binary, "--follow-anvil", (char *)NULL);
        perror("exec devnet");
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    FILE *to_devnet = fdopen(to_child[1], "w");
    FILE *from_devnet = fdopen(from_child[0], "r");
    static char line[64 * 1024];
    if (to_devnet == NULL || from_devnet == NULL || fgets(line, sizeof line, from_devnet) == NULL) {
        fprintf(stderr, "the anvil devnet exited without printing its ENRs\n");
        exit(1);
    }
    char *bootnodes[16];
    size_t bootnodes_len = parse_bootnodes(line, bootnodes, 16);
    CHECK(bootnodes_len > 0);
    Pushed first;
    parse_pushed(line, &first);

    char data_dir[] = "/tmp/portal-state-c-watch-XXXXXX";
    CHECK(mkdtemp(data_dir) != NULL);
    PortalStateConfig config;
    MUST(portal_state_config_default(&config));
    config.data_dir = data_dir;
    config.storage_capacity_bytes = 0; /* a light node: every read comes from the network */
    config.bootnodes = (const char *const *)bootnodes;
    config.bootnodes_len = bootnodes_len;
    PortalStateNode *node = NULL;
    MUST(portal_state_node_start(&config, &node));
    PortalStateBlockInfo head;
    MUST(portal_state_node_update_head(node, first.header_rlp, first.header_rlp_len, &head));

    static Heard heard;
    pthread_mutex_init(&heard.lock, NULL);
    pthread_cond_init(&heard.arrived, NULL);
    heard.caller = pthread_self();
    uint64_t watch_id = 0;
    expect_error(portal_state_node_watch(node, WATCHED, NULL, 0, NULL, &heard, &watch_id),
                 PORTAL_STATE_ERROR_NULL_ARGUMENT, "callback", "watch without a callback");
    expect_error(portal_state_node_watch(node, "0x1234", NULL, 0, on_change, &heard, &watch_id),
                 PORTAL_STATE_ERROR_INVALID_INPUT, "40 hex digits", "watch a short address");
    const char *bad_slots[] = {"22"};
    expect_error(portal_state_node_watch(node, WATCHED, bad_slots, 1, on_change, &heard, &watch_id),
                 PORTAL_STATE_ERROR_INVALID_INPUT, "0x", "watch a slot without 0x");
    MUST(portal_state_node_watch(node, WATCHED, NULL, 0, on_change, &heard, &watch_id));
    CHECK(watch_id != 0);

    const unsigned long sent[] = {1000000, 2500000};
    unsigned long total = 0;
    for (size_t i = 0; i < 2; i++) {
        Pushed block;
        send_transfer(to_devnet, from_devnet, WATCHED, sent[i], &block);
        total += sent[i];
        MUST(portal_state_node_update_head(node, block.header_rlp, block.header_rlp_len, &head));
        PortalStateWatchEvent event;
        CHECK(event_at(&heard, block.number, &event));
        char hex[65];
        to_hex(event.account.block.hash, 32, hex);
        CHECK(strcmp(hex, block.hash + 2) == 0);
        char expected[32];
        snprintf(expected, sizeof expected, "%lu", total);
        CHECK(strcmp(event.account.balance_decimal, expected) == 0);
        CHECK(strcmp(event.account.balance_decimal, block.balance) == 0);
        CHECK(event.watch_id == watch_id && event.account.exists && event.slots_len == 0);
        if (i > 0) CHECK(event.balance_changed && !event.baseline && event.missed_blocks == 0);
        free(block.header_rlp);
    }
    CHECK(!heard.wrong_thread);

    bool found = false;
    MUST(portal_state_node_unwatch(node, watch_id, &found));
    CHECK(found);
    MUST(portal_state_node_unwatch(node, watch_id, &found));
    CHECK(!found);
    pthread_mutex_lock(&heard.lock);
    size_t before = heard.count;
    pthread_mutex_unlock(&heard.lock);
    Pushed after;
    send_transfer(to_devnet, from_devnet, WATCHED, 7, &after);
    MUST(portal_state_node_update_head(node, after.header_rlp, after.header_rlp_len, &head));
    struct timespec pause = {1, 500 * 1000 * 1000}; /* three of the watch task's polls */
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&heard.lock);
    CHECK(heard.count == before);
    pthread_mutex_unlock(&heard.lock);
    free(after.header_rlp);

    MUST(portal_state_node_stop(node));
    portal_state_node_free(node);
    fclose(to_devnet); /* EOF: the devnet stops anvil and its nodes and exits */
    int status;
    waitpid(pid, &status, 0);
    fclose(from_devnet);
    for (size_t i = 0; i < bootnodes_len; i++) free(bootnodes[i]);
    free(first.header_rlp);
    pthread_cond_destroy(&heard.arrived);
    pthread_mutex_destroy(&heard.lock);
    char remove_dir[128];
    snprintf(remove_dir, sizeof remove_dir, "rm -rf '%s'", data_dir);
    CHECK(system(remove_dir) == 0);
}

static PortalStateCallRequest call_request(const uint8_t *data, size_t data_len) {
    PortalStateCallRequest request;
    memset(&request, 0, sizeof request); /* null pointers and 0: every optional field absent */
    request.to = DEPOSIT;
    request.data = data;
    request.data_len = data_len;
    return request;
}

int main(void) {
    const char *devnet_binary = getenv("PORTAL_STATE_DEVNET");
    if (devnet_binary == NULL || access(devnet_binary, X_OK) != 0) {
        fprintf(stderr, "PORTAL_STATE_DEVNET must name the built devnet-for-bindings example\n");
        return 1;
    }
    printf("portal-state C API %s\n", portal_state_version());

    Devnet devnet;
    devnet_start(&devnet, devnet_binary);
    char *bootnodes[16];
    size_t bootnodes_len = parse_bootnodes(devnet.line, bootnodes, 16);
    CHECK(bootnodes_len > 0);
    size_t header_rlp_len = 0;
    const char *rlp_hex = strstr(devnet.line, "\"header_rlp\":\"0x");
    CHECK(rlp_hex != NULL);
    uint8_t *header_rlp = from_hex(rlp_hex + strlen("\"header_rlp\":\"0x"), &header_rlp_len);

    char data_dir[] = "/tmp/portal-state-c-XXXXXX";
    CHECK(mkdtemp(data_dir) != NULL);

    /* Start: a light node (stores nothing), so every answer comes over the network. */
    PortalStateConfig config;
    MUST(portal_state_config_default(&config));
    CHECK(config.worker_threads == 2 && config.chain_id == 1 && config.data_dir == NULL);
    PortalStateNode *node = NULL;
    expect_error(portal_state_node_start(&config, &node), PORTAL_STATE_ERROR_NULL_ARGUMENT,
                 "data_dir", "start without a data_dir");
    config.data_dir = data_dir;
    config.storage_capacity_bytes = 0;
    config.bootnodes = (const char *const *)bootnodes;
    config.bootnodes_len = bootnodes_len;
    MUST(portal_state_node_start(&config, &node));
    CHECK(node != NULL);

    /* Nothing is verifiable before a head is trusted. */
    PortalStateAccount account;
    expect_error(portal_state_node_query_account(node, DEPOSIT, NULL, &account),
                 PORTAL_STATE_ERROR_NO_TRUSTED_HEADER, "trusted", "query before update_head");

    PortalStateBlockInfo head;
    MUST(portal_state_node_update_head(node, header_rlp, header_rlp_len, &head));
    CHECK(head.number == 0);
    char hash_hex[65];
    to_hex(head.hash, 32, hash_hex);
    CHECK(strstr(devnet.line, hash_hex) != NULL);

    PortalStateStatus status;
    MUST(portal_state_node_status(node, &status));
    CHECK(status.has_newest_block && status.newest_block == 0);
    CHECK(status.peers >= 1);
    CHECK(strncmp(status.enr, "enr:", 4) == 0);
    portal_state_status_free(&status);
    CHECK(status.enr == NULL);

    /* Account: the balance of a genesis whale, exact. */
    MUST(portal_state_node_query_account(node, WHALE, NULL, &account));
    CHECK(account.exists && account.nonce == 0);
    CHECK(strcmp(account.balance_decimal, WHALE_BALANCE_DECIMAL) == 0);
    CHECK(hex_equals(account.balance, 32, WHALE_BALANCE_HEX));
    CHECK(memcmp(account.block.hash, head.hash, 32) == 0);

    /* Storage slot 0x22 of the deposit contract, at block number 0. */
    PortalStateBlock block_zero = {PORTAL_STATE_BLOCK_NUMBER, 0, NULL};
    PortalStateStorage storage;
    MUST(portal_state_node_query_storage(node, DEPOSIT, "0x22", &block_zero, &storage));
    CHECK(hex_equals(storage.value, 32, DEPOSIT_SLOT_22));

    /* Code, at the head's hash. */
    char hash_text[67] = "0x";
    strcat(hash_text, hash_hex);
    PortalStateBlock by_hash = {PORTAL_STATE_BLOCK_HASH, 0, hash_text};
    PortalStateCode code;
    MUST(portal_state_node_get_code(node, DEPOSIT, &by_hash, &code));
    CHECK(code.code.len == DEPOSIT_CODE_BYTES);
    CHECK(code.code.data != NULL && hex_equals(code.code.data, 16, DEPOSIT_CODE_PREFIX));
    portal_state_code_free(&code);
    CHECK(code.code.data == NULL && code.code.len == 0);
    portal_state_code_free(&code); /* twice: harmless */

    /* Calls through the network: get_deposit_root() and get_deposit_count(). */
    const uint8_t get_deposit_root[] = {0xc5, 0xf2, 0x89, 0x2f};
    PortalStateCallRequest request = call_request(get_deposit_root, sizeof get_deposit_root);
    PortalStateCallAnswer answer;
    MUST(portal_state_node_call(node, &request, NULL, &answer));
    CHECK(answer.success && answer.gas_used > 21000);
    CHECK(answer.return_data.len == 32 && hex_equals(answer.return_data.data, 32, DEPOSIT_ROOT));
    CHECK(answer.revert_reason == NULL && answer.halt_reason == NULL);
    portal_state_call_answer_free(&answer);

    const uint8_t get_deposit_count[] = {0x62, 0x1f, 0xd1, 0x30};
    request = call_request(get_deposit_count, sizeof get_deposit_count);
    MUST(portal_state_node_call(node, &request, NULL, &answer));
    /* ABI `bytes` of length 8, all zero: an empty deposit tree. */
    CHECK(answer.success && answer.return_data.len >= 72);
    if (answer.return_data.len >= 72) {
        CHECK(answer.return_data.data[63] == 8);
        static const uint8_t zeros[8] = {0};
        CHECK(memcmp(answer.return_data.data + 64, zeros, 8) == 0);
    }
    portal_state_call_answer_free(&answer);

    PortalStateGas gas;
    request = call_request(get_deposit_root, sizeof get_deposit_root);
    MUST(portal_state_node_estimate_gas(node, &request, NULL, &gas));
    CHECK(gas.gas > 21000 && gas.gas < 30000000);

    /* Fees from the trusted holesky genesis header: base fee 1 gwei, nothing used, so the
       next block's is 7/8 of it; the tip is the fixed 1 gwei suggestion. */
    PortalStateFeeData fees;
    MUST(portal_state_node_fee_data(node, &fees));
    CHECK(fees.has_base_fee && fees.base_fee_per_gas == 1000000000u);
    CHECK(fees.next_base_fee_per_gas == 875000000u);
    CHECK(fees.max_priority_fee_per_gas == 1000000000u);
    CHECK(fees.gas_price == 1875000000u && fees.max_fee_per_gas == 2750000000u);
    CHECK(!fees.has_blob_fee && memcmp(fees.block.hash, head.hash, 32) == 0);

    /* Sending: no relay set, then a URL that is not one, then bytes that are no transaction. */
    const uint8_t not_a_tx[] = {0x02, 0x01};
    PortalStateSentTransaction sent;
    expect_error(portal_state_node_send_raw_transaction(node, not_a_tx, sizeof not_a_tx, &sent),
                 PORTAL_STATE_ERROR_NO_RELAY, "relay", "send without a relay");
    const char *bad_relays[] = {"ftp://127.0.0.1:1"};
    expect_error(portal_state_node_set_tx_relays(node, bad_relays, 1),
                 PORTAL_STATE_ERROR_INVALID_INPUT, "http", "relay URL without http");
    const char *relays[] = {"http://127.0.0.1:9"};
    MUST(portal_state_node_set_tx_relays(node, relays, 1));
    expect_error(portal_state_node_send_raw_transaction(node, not_a_tx, sizeof not_a_tx, &sent),
                 PORTAL_STATE_ERROR_TRANSACTION_REJECTED, "decode", "bytes that are no transaction");

    /* Typed errors for bad input. */
    expect_error(portal_state_node_query_account(node, "0x1234", NULL, &account),
                 PORTAL_STATE_ERROR_INVALID_INPUT, "40 hex digits", "short address");
    expect_error(portal_state_node_query_account(node, "0xD3994e4d3202dD23c8497d7F75bF1647d1DA1bbB",
                                                 NULL, &account),
                 PORTAL_STATE_ERROR_INVALID_INPUT, "checksum", "checksum typo");
    expect_error(portal_state_node_query_account(node, "0x\xff\xfe", NULL, &account),
                 PORTAL_STATE_ERROR_INVALID_UTF8, "UTF-8", "address not UTF-8");
    expect_error(portal_state_node_query_account(node, NULL, NULL, &account),
                 PORTAL_STATE_ERROR_NULL_ARGUMENT, "address", "null address");
    expect_error(portal_state_node_query_account(NULL, DEPOSIT, NULL, &account),
                 PORTAL_STATE_ERROR_NULL_ARGUMENT, "node", "null node");
    expect_error(portal_state_node_query_account(node, DEPOSIT, NULL, NULL),
                 PORTAL_STATE_ERROR_NULL_ARGUMENT, "out_account", "null out-parameter");
    expect_error(portal_state_node_query_storage(node, DEPOSIT, "22", NULL, &storage),
                 PORTAL_STATE_ERROR_INVALID_INPUT, "0x", "slot without 0x");
    PortalStateBlock block_five = {PORTAL_STATE_BLOCK_NUMBER, 5, NULL};
    expect_error(portal_state_node_query_account(node, DEPOSIT, &block_five, &account),
                 PORTAL_STATE_ERROR_UNKNOWN_BLOCK, "5", "unknown block");
    PortalStateBlock bad_kind = {7, 0, NULL};
    expect_error(portal_state_node_query_account(node, DEPOSIT, &bad_kind, &account),
                 PORTAL_STATE_ERROR_INVALID_INPUT, "kind", "bad block kind");
    PortalStateBlock bad_hash = {PORTAL_STATE_BLOCK_HASH, 0, "0xnothex"};
    expect_error(portal_state_node_query_account(node, DEPOSIT, &bad_hash, &account),
                 PORTAL_STATE_ERROR_INVALID_INPUT, "hex", "bad block hash");
    const uint8_t bad_rlp[] = {0xc0, 0x01};
    expect_error(portal_state_node_update_head(node, bad_rlp, sizeof bad_rlp, &head),
                 PORTAL_STATE_ERROR_INVALID_INPUT, "header", "bad header RLP");
    expect_error(portal_state_node_update_head(node, NULL, 10, &head),
                 PORTAL_STATE_ERROR_NULL_ARGUMENT, "header_rlp", "null RLP with a length");
    request = call_request(get_deposit_root, sizeof get_deposit_root);
    request.value = "lots";
    expect_error(portal_state_node_call(node, &request, NULL, &answer),
                 PORTAL_STATE_ERROR_INVALID_INPUT, "value", "bad amount");

    /* A panic inside a call's task on the node's runtime comes back as an error, and the node
     * keeps answering. */
    request = call_request((const uint8_t *)PANIC_IN_CALL, strlen(PANIC_IN_CALL));
    expect_error(portal_state_node_call(node, &request, NULL, &answer),
                 PORTAL_STATE_ERROR_INTERNAL, "panicked", "panic inside a call");
    request = call_request(get_deposit_root, sizeof get_deposit_root);
    MUST(portal_state_node_call(node, &request, NULL, &answer));
    CHECK(answer.success && hex_equals(answer.return_data.data, 32, DEPOSIT_ROOT));
    portal_state_call_answer_free(&answer);

    /* Stop: idempotent; then every query is NOT_RUNNING. */
    MUST(portal_state_node_stop(node));
    MUST(portal_state_node_stop(node));
    expect_error(portal_state_node_query_account(node, DEPOSIT, NULL, &account),
                 PORTAL_STATE_ERROR_NOT_RUNNING, "not running", "query after stop");
    expect_error(portal_state_node_status(node, &status), PORTAL_STATE_ERROR_NOT_RUNNING,
                 "not running", "status after stop");
    expect_error(portal_state_node_call(node, &request, NULL, &answer),
                 PORTAL_STATE_ERROR_NOT_RUNNING, "not running", "call after stop");
    portal_state_node_free(node);
    portal_state_node_free(NULL);

    light_client_status(devnet.line);

    devnet_stop(&devnet);
    watch_test(devnet_binary);
    for (size_t i = 0; i < bootnodes_len; i++) free(bootnodes[i]);
    free(header_rlp);
    char remove_dir[128];
    snprintf(remove_dir, sizeof remove_dir, "rm -rf '%s'", data_dir);
    CHECK(system(remove_dir) == 0);

    if (failures > 0) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("C API: all checks passed\n");
    return 0;
}
