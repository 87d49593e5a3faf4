// The generated Kotlin bindings on a plain JVM against a real devnet (a child process running
// the `devnet-for-bindings` example): start a node, trust a head, verified answers checked
// against the holesky genesis, async forms, typed errors, stop.

import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.fail
import uniffi.portal_state.BlockId
import uniffi.portal_state.CallRequest
import uniffi.portal_state.LogLevel
import uniffi.portal_state.LogRecord
import uniffi.portal_state.LogSink
import uniffi.portal_state.Node
import uniffi.portal_state.NodeException
import uniffi.portal_state.clearLogSink
import uniffi.portal_state.defaultNodeConfig
import uniffi.portal_state.setLogSink
import java.io.File
import java.math.BigInteger
import java.nio.file.Files
import java.util.Collections

// From data/genesis/holesky.json.
const val DEPOSIT = "0x4242424242424242424242424242424242424242"
const val WHALE = "0xD3994e4d3202dD23c8497d7F75bF1647d1DA1bb1"
const val WHALE_BALANCE_HEX = "19D971E4FE8401E74000000"
const val DEPOSIT_SLOT_22 = "0xf5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
const val DEPOSIT_CODE_BYTES = 6358
const val PANIC_IN_CALL = "portal-state:panic-in-call"
const val DEPOSIT_ROOT = "0xd70a234731285c6804c2a4f56711ddb8c82c99740f207854891028af34e27e5e"

// The devnet's beacon REST API serves the real mainnet Deneb light-client objects of
// portal-spec-tests: this checkpoint, and the heads they prove (tests/beacon_light_client.rs
// checks them against the execution branches).
const val BEACON_CHECKPOINT = "0x33d75f8506929d950a6d9e43508e92e50a072a39978821900e3a2e261f80ddbf"
const val BEACON_FINALIZED_SLOT = 10_248_384uL
const val BEACON_OPTIMISTIC_SLOT = 10_248_457uL
const val BEACON_FINALIZED_BLOCK = 21_038_093uL
const val BEACON_OPTIMISTIC_BLOCK = 21_038_166uL

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NodeTest {
    private lateinit var devnet: Process
    private lateinit var bootnodes: List<String>
    private lateinit var headerRlp: ByteArray
    private lateinit var blockHash: String
    private lateinit var beaconApi: String

    private fun required(property: String): String {
        val value = System.getProperty(property)
        if (value.isNullOrEmpty()) fail("system property $property is required (scripts/test.sh sets it)")
        return value
    }

    private fun hex(text: String): ByteArray =
        text.removePrefix("0x").chunked(2).map { it.toInt(16).toByte() }.toByteArray()

    @BeforeAll
    fun startDevnet() {
        required("jna.library.path")
        val binary = required("portal.devnet")
        // The repository root, where the devnet finds data/genesis.
        val repo = File("../../..").canonicalFile
        devnet = ProcessBuilder(binary).directory(repo)
            .redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val line = devnet.inputStream.bufferedReader().readLine()
            ?: fail("the devnet exited without printing its ENRs")
        // One flat JSON object; a regex is enough and keeps the test free of a JSON library.
        bootnodes = Regex("\"(enr:[^\"]+)\"").findAll(line).map { it.groupValues[1] }.toList()
        headerRlp = hex(Regex("\"header_rlp\":\"(0x[0-9a-f]+)\"").find(line)!!.groupValues[1])
        blockHash = Regex("\"hash\":\"(0x[0-9a-f]+)\"").find(line)!!.groupValues[1]
        beaconApi = Regex("\"beacon_api\":\"([^\"]+)\"").find(line)!!.groupValues[1]
        assertTrue(bootnodes.isNotEmpty(), line)
    }

    @AfterAll
    fun stopDevnet() {
        devnet.outputStream.close() // EOF: the devnet stops its nodes and exits
        devnet.waitFor()
    }

    private fun startNode(name: String): Node {
        val dir = Files.createTempDirectory("portal-state-kt-$name").toString()
        // A light node: it stores nothing, every answer comes over the network.
        val config = defaultNodeConfig(dir).copy(storageCapacityBytes = 0uL, bootnodes = bootnodes)
        return Node.start(config)
    }

    @Test
    fun queriesAreVerifiedAgainstTheGenesis() {
        startNode("queries").use { node ->
            assertThrows<NodeException.NoTrustedHeader> { node.queryAccount(DEPOSIT, BlockId.Latest) }
            val head = node.updateHead(headerRlp)
            assertEquals(0uL, head.number)
            assertEquals(blockHash, head.hash)
            val status = node.status()
            assertEquals(0uL, status.newestBlock)
            assertTrue(status.peers >= 1uL)

            // Balance: a decimal string, exact as a BigInteger (this one is beyond a Long).
            val whale = node.queryAccount(WHALE, BlockId.Latest)
            assertTrue(whale.exists)
            assertEquals(BigInteger(WHALE_BALANCE_HEX, 16), BigInteger(whale.balance))
            assertEquals(blockHash, whale.block.hash)

            val slot = node.queryStorage(DEPOSIT, "0x22", BlockId.Number(0uL))
            assertEquals(DEPOSIT_SLOT_22, slot.value)
            val code = node.getCode(DEPOSIT, BlockId.Hash(blockHash))
            assertEquals(DEPOSIT_CODE_BYTES, code.code.size)
            assertArrayEquals(hex("0x60806040"), code.code.copyOfRange(0, 4))

            val absent = node.queryAccount("0x" + "77".repeat(20), BlockId.Latest)
            assertFalse(absent.exists)
            assertEquals("0", absent.balance)
        }
    }

    @Test
    fun suspendFunctionsAnswerToo() {
        startNode("async").use { node ->
            node.updateHead(headerRlp)
            runBlocking {
                val account = async { node.queryAccountAsync(DEPOSIT, BlockId.Latest) }
                val code = async { node.getCodeAsync(DEPOSIT, BlockId.Latest) }
                val slot = async { node.queryStorageAsync(DEPOSIT, "0x22", BlockId.Latest) }
                assertTrue(account.await().exists)
                assertEquals(DEPOSIT_CODE_BYTES, code.await().code.size)
                assertEquals(DEPOSIT_SLOT_22, slot.await().value)
            }
        }
    }

    @Test
    fun contractCallsThroughTheNetwork() {
        startNode("call").use { node ->
            node.updateHead(headerRlp)
            fun request(selector: String) = CallRequest(
                from = null, to = DEPOSIT, gas = null, gasPrice = null, value = null,
                data = hex(selector), chainId = null,
            )
            val root = node.call(request("c5f2892f"), BlockId.Latest) // get_deposit_root()
            assertTrue(root.success)
            assertArrayEquals(hex(DEPOSIT_ROOT), root.returnData)
            runBlocking {
                val count = node.callAsync(request("621fd130"), BlockId.Latest) // get_deposit_count()
                assertArrayEquals(ByteArray(8), count.returnData.copyOfRange(64, 72))
                val gas = node.estimateGasAsync(request("c5f2892f"), BlockId.Latest)
                assertTrue(gas.gas > 21_000uL)
            }
        }
    }

    @Test
    fun aPanicInsideACallIsAnError() {
        startNode("panic").use { node ->
            node.updateHead(headerRlp)
            fun request(data: ByteArray) = CallRequest(
                from = null, to = DEPOSIT, gas = null, gasPrice = null, value = null,
                data = data, chainId = null,
            )
            // node::PANIC_IN_CALL: with the `fault-injection` feature (scripts/test.sh builds the
            // library the tests load with it), this calldata panics inside the call's task.
            val panic = request(PANIC_IN_CALL.toByteArray())
            val caught = assertThrows<NodeException.Internal> { node.call(panic, BlockId.Latest) }
            assertTrue(caught.reason.contains("panicked"), caught.reason)
            assertThrows<NodeException.Internal> { runBlocking { node.callAsync(panic, BlockId.Latest) } }
            // The JVM lives on and so does the node.
            val root = node.call(request(hex("c5f2892f")), BlockId.Latest)
            assertArrayEquals(hex(DEPOSIT_ROOT), root.returnData)
        }
    }

    @Test
    fun theLightClientFollowsABeaconApi() {
        // No bootnodes: the heads come from the light client alone, never from `updateHead`.
        val dir = Files.createTempDirectory("portal-state-kt-beacon").toString()
        Node.start(defaultNodeConfig(dir).copy(storageCapacityBytes = 0uL)).use { node ->
            assertEquals(null, node.status().lightClient)
            node.startLightClient(BEACON_CHECKPOINT, listOf(beaconApi))
            var status = node.status()
            for (i in 0 until 600) {
                if (status.lightClient?.optimisticBlock == BEACON_OPTIMISTIC_BLOCK) break
                Thread.sleep(50)
                status = node.status()
            }
            val light = status.lightClient ?: fail("no light-client status")
            assertEquals(BEACON_CHECKPOINT, light.checkpoint)
            assertEquals(BEACON_FINALIZED_SLOT, light.finalizedSlot)
            assertEquals(BEACON_OPTIMISTIC_SLOT, light.optimisticSlot)
            assertEquals(BEACON_FINALIZED_BLOCK, light.finalizedBlock)
            assertEquals(BEACON_OPTIMISTIC_BLOCK, light.optimisticBlock)
            assertEquals(null, light.lastError)
            assertEquals(0uL, light.refusedObjects)
            assertEquals(BEACON_OPTIMISTIC_BLOCK, status.newestBlock)
        }
    }

    @Test
    fun errorsAreTyped() {
        val node = startNode("errors")
        node.updateHead(headerRlp)
        val bad = assertThrows<NodeException.InvalidInput> { node.queryAccount("0x1234", BlockId.Latest) }
        assertTrue(bad.reason.contains("40 hex digits"), bad.reason)
        val typo = assertThrows<NodeException.InvalidInput> {
            node.queryAccount(WHALE.dropLast(1) + "B", BlockId.Latest)
        }
        assertTrue(typo.reason.contains("checksum"), typo.reason)
        assertThrows<NodeException.InvalidInput> { node.queryStorage(DEPOSIT, "22", BlockId.Latest) }
        assertThrows<NodeException.UnknownBlock> { node.queryAccount(DEPOSIT, BlockId.Number(5uL)) }
        assertThrows<NodeException.InvalidInput> { node.updateHead(byteArrayOf(0xc0.toByte(), 0x01)) }

        node.stop()
        node.stop() // idempotent
        assertThrows<NodeException.NotRunning> { node.queryAccount(DEPOSIT, BlockId.Latest) }
        assertThrows<NodeException.NotRunning> { node.status() }
        assertThrows<NodeException.NotRunning> { runBlocking { node.getCodeAsync(DEPOSIT, BlockId.Latest) } }
        node.close()
    }

    @Test
    fun aLogSinkReceivesLines() {
        val lines = Collections.synchronizedList(mutableListOf<LogRecord>())
        setLogSink(object : LogSink {
            override fun log(record: LogRecord) {
                lines.add(record)
            }
        })
        try {
            startNode("logs").use { it.stop() }
        } finally {
            clearLogSink()
        }
        val started = lines.filter { it.message.contains("node started") }
        assertTrue(started.isNotEmpty(), lines.toString())
        assertEquals(LogLevel.INFO, started[0].level)
    }
}
