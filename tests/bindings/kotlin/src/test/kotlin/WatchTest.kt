// `watch` through the generated Kotlin bindings on a plain JVM, against a devnet following a
// real anvil (the `devnet-for-bindings` example with `--follow-anvil`): a light node watches a
// fresh account, anvil mines transfers to it, and a Kotlin listener hears each verified new
// balance at the block that made it; a listener that throws harms nothing; after `unwatch`
// nothing more.

import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.fail
import uniffi.portal_state.Node
import uniffi.portal_state.NodeException
import uniffi.portal_state.WatchEvent
import uniffi.portal_state.WatchListener
import uniffi.portal_state.defaultNodeConfig
import java.io.BufferedReader
import java.io.File
import java.nio.file.Files
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

const val WATCHED = "0x00000000000000000000000000000000000b0b04"

/** A block the devnet pushed: what the app trusts with updateHead, and anvil's balance there. */
data class PushedBlock(val number: ULong, val hash: String, val headerRlp: ByteArray, val balance: String?)

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WatchTest {
    private lateinit var devnet: Process
    private lateinit var output: BufferedReader
    private lateinit var bootnodes: List<String>
    private lateinit var first: PushedBlock

    private fun required(property: String): String {
        val value = System.getProperty(property)
        if (value.isNullOrEmpty()) fail("system property $property is required (scripts/test.sh sets it)")
        return value
    }

    private fun hex(text: String): ByteArray =
        text.removePrefix("0x").chunked(2).map { it.toInt(16).toByte() }.toByteArray()

    // One flat JSON object per line; a regex is enough and keeps the test free of a JSON library.
    private fun field(line: String, name: String): String? =
        Regex("\"$name\":\"?([^\",}]+)\"?").find(line)?.groupValues?.get(1)

    private fun block(line: String?): PushedBlock {
        val text = line ?: fail("the anvil devnet exited")
        return PushedBlock(
            field(text, "number")!!.toULong(), field(text, "hash")!!,
            hex(field(text, "header_rlp")!!), field(text, "balance"),
        )
    }

    @BeforeAll
    fun startDevnet() {
        required("jna.library.path")
        if (System.getenv("PORTAL_STATE_ANVIL").isNullOrEmpty()) fail("PORTAL_STATE_ANVIL is required (scripts/test.sh)")
        val repo = File("../../..").canonicalFile
        devnet = ProcessBuilder(required("portal.devnet"), "--follow-anvil").directory(repo)
            .redirectError(ProcessBuilder.Redirect.INHERIT).start()
        output = devnet.inputStream.bufferedReader()
        val line = output.readLine() ?: fail("the anvil devnet exited without printing its ENRs")
        bootnodes = Regex("\"(enr:[^\"]+)\"").findAll(line).map { it.groupValues[1] }.toList()
        first = block(line)
        assertTrue(bootnodes.isNotEmpty(), line)
    }

    @AfterAll
    fun stopDevnet() {
        devnet.outputStream.close() // EOF: the devnet stops anvil and its nodes and exits
        devnet.waitFor()
    }

    private fun send(to: String, wei: Long): PushedBlock {
        devnet.outputStream.write("send $to $wei\n".toByteArray())
        devnet.outputStream.flush()
        return block(output.readLine())
    }

    @Test
    fun aKotlinListenerHearsEachTransfer() {
        val dir = Files.createTempDirectory("portal-state-kt-watch").toString()
        val config = defaultNodeConfig(dir).copy(storageCapacityBytes = 0uL, bootnodes = bootnodes)
        Node.start(config).use { node ->
            node.updateHead(first.headerRlp)
            val events = LinkedBlockingQueue<WatchEvent>()
            val thrown = AtomicInteger()
            val watchId = node.watch(WATCHED, listOf(), object : WatchListener {
                override fun onChange(event: WatchEvent) {
                    events.put(event)
                }
            })
            val throwingId = node.watch(WATCHED, listOf(), object : WatchListener {
                override fun onChange(event: WatchEvent) {
                    thrown.incrementAndGet()
                    throw IllegalStateException("a listener that throws")
                }
            })
            assertThrows<NodeException.InvalidInput> {
                node.watch("0x1234", listOf(), object : WatchListener {
                    override fun onChange(event: WatchEvent) {}
                })
            }

            fun eventAt(block: PushedBlock): WatchEvent {
                while (true) {
                    val event = events.poll(60, TimeUnit.SECONDS) ?: fail("no event for block ${block.number}")
                    if (event.account.block.number == block.number) {
                        assertEquals(block.hash, event.account.block.hash)
                        return event
                    }
                    assertTrue(event.baseline && event.account.balance == "0", event.toString())
                }
            }

            var total = 0L
            for ((i, wei) in listOf(1_000_000L, 2_500_000L).withIndex()) {
                val block = send(WATCHED, wei)
                total += wei
                node.updateHead(block.headerRlp)
                val event = eventAt(block)
                assertEquals(watchId, event.watchId)
                assertEquals(WATCHED, event.address.lowercase())
                assertEquals(total.toString(), event.account.balance)
                assertEquals(block.balance, event.account.balance)
                if (i > 0) {
                    assertTrue(event.balanceChanged && !event.baseline)
                    assertEquals(0uL, event.missedBlocks)
                }
            }
            assertTrue(thrown.get() >= 2, "the throwing listener is still called")
            assertTrue(node.unwatch(throwingId))
            assertTrue(node.unwatch(watchId))
            assertFalse(node.unwatch(watchId))
            node.updateHead(send(WATCHED, 7).headerRlp)
            // Three of the watch task's polls: nothing comes.
            assertNull(events.poll(1500, TimeUnit.MILLISECONDS))
        }
    }
}
