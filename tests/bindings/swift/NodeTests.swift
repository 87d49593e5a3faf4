// The generated Swift bindings on Linux (XCTest, `swift test` in the Debian 13 chroot that
// scripts/test-swift.sh runs it in) against a real devnet: a child process running the
// `devnet-for-bindings` example. Start a node, trust a head, verified answers checked against
// the holesky genesis, `call` and `estimateGas`, async forms, typed errors, a panic inside a
// call coming back as an error, pause/resume, a watch's verified baseline, the log sink, stop.
//
// Environment (scripts/test-swift.sh sets it; the tests fail, never skip, without it):
//   PORTAL_STATE_DEVNET  the built `devnet-for-bindings` example

import Foundation
import PortalState
import XCTest

// From data/genesis/holesky.json.
let deposit = "0x4242424242424242424242424242424242424242"
let whale = "0xD3994e4d3202dD23c8497d7F75bF1647d1DA1bb1"
let whaleBalance = "500000000000000000000000000"  // 0x19D971E4FE8401E74000000 wei, above 2^64
let depositSlot22 = "0xf5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
let depositCodeBytes = 6358
let depositRoot = "d70a234731285c6804c2a4f56711ddb8c82c99740f207854891028af34e27e5e"
// node::PANIC_IN_CALL: with the `fault-injection` feature (scripts/test.sh builds the library
// the tests load with it), a call with this calldata panics inside its task.
let panicInCall = Data("portal-state:panic-in-call".utf8)

struct SetupError: Error, CustomStringConvertible {
    let description: String
}

extension Data {
    /// Bytes from hex digits, with or without `0x`; nil for anything else.
    init?(hex: String) {
        let digits = Array((hex.hasPrefix("0x") ? String(hex.dropFirst(2)) : hex).utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(byte)
        }
        self.init(bytes)
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

/// The devnet child process: it prints one line of JSON once the state is placed and serves
/// until its stdin closes (or this process dies).
final class Devnet {
    let process = Process()
    let input = Pipe()
    let bootnodes: [String]
    let headerRlp: Data
    let blockHash: String
    /// A beacon REST API serving the real mainnet Deneb light-client objects.
    let beaconApi: String

    init() throws {
        guard let binary = ProcessInfo.processInfo.environment["PORTAL_STATE_DEVNET"],
            FileManager.default.isExecutableFile(atPath: binary)
        else {
            throw SetupError(
                description: "PORTAL_STATE_DEVNET must name the built devnet-for-bindings example"
                    + " (scripts/test-swift.sh sets it)")
        }
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: binary)
        process.standardInput = input
        process.standardOutput = output
        try process.run()

        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // EOF: the devnet exited
            line.append(chunk)
        }
        guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
            let bootnodes = object["bootnodes"] as? [String], !bootnodes.isEmpty,
            let rlpHex = object["header_rlp"] as? String, let headerRlp = Data(hex: rlpHex),
            let blockHash = object["hash"] as? String,
            let beaconApi = object["beacon_api"] as? String
        else {
            process.terminate()
            throw SetupError(
                description: "the devnet did not print its ENRs and header: "
                    + String(decoding: line, as: UTF8.self))
        }
        self.bootnodes = bootnodes
        self.headerRlp = headerRlp
        self.blockHash = blockHash
        self.beaconApi = beaconApi
    }

    func stop() {
        try? input.fileHandleForWriting.close()  // EOF: the devnet stops its nodes and exits
        process.waitUntilExit()
    }
}

/// The error a call threw, which must be a `NodeError`: a test failure otherwise, or when it
/// threw nothing.
func nodeError<T>(
    file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
) async -> NodeError? {
    do {
        let value = try await body()
        XCTFail("expected a NodeError, got \(value)", file: file, line: line)
    } catch let error as NodeError {
        return error
    } catch {
        XCTFail("expected a NodeError, got \(type(of: error)): \(error)", file: file, line: line)
    }
    return nil
}

/// A watch listener that keeps what it hears (called on the node's watch thread).
final class CollectingListener: WatchListener, @unchecked Sendable {
    private let condition = NSCondition()
    private var kept = [WatchEvent]()

    func onChange(event: WatchEvent) {
        condition.lock()
        kept.append(event)
        condition.broadcast()
        condition.unlock()
    }

    /// The first event, waiting up to `seconds` for it.
    func first(within seconds: Double) -> WatchEvent? {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while kept.isEmpty && condition.wait(until: deadline) {}
        return kept.first
    }
}

/// A log sink that keeps what it receives (called on the node's threads).
final class CollectingSink: LogSink, @unchecked Sendable {
    private let lock = NSLock()
    private var kept = [LogRecord]()

    func log(record: LogRecord) {
        lock.lock()
        kept.append(record)
        lock.unlock()
    }

    var records: [LogRecord] {
        lock.lock()
        defer { lock.unlock() }
        return kept
    }
}

final class NodeTests: XCTestCase {
    // One devnet for every test of the class: started before the first, stopped after the last.
    static var devnetOrError: Result<Devnet, Error> = .failure(SetupError(description: "not started"))

    override class func setUp() {
        super.setUp()
        devnetOrError = Result { try Devnet() }
    }

    override class func tearDown() {
        if case .success(let devnet) = devnetOrError { devnet.stop() }
        super.tearDown()
    }

    var devnet: Devnet {
        get throws { try Self.devnetOrError.get() }
    }

    /// A light node: it stores nothing, every answer comes over the network.
    func startNode(_ name: String) throws -> Node {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("portal-state-swift-\(name)-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        var config = defaultNodeConfig(dataDir: dir.path)
        config.storageCapacityBytes = 0
        config.bootnodes = try devnet.bootnodes
        return try Node.start(config: config)
    }

    func request(_ data: Data) -> CallRequest {
        CallRequest(
            from: nil, to: deposit, gas: nil, gasPrice: nil, value: nil, data: data, chainId: nil)
    }

    func testQueriesAreVerifiedAgainstTheGenesis() async throws {
        let node = try startNode("queries")
        defer { try? node.stop() }
        let none = await nodeError { try node.queryAccount(address: deposit, block: .latest) }
        XCTAssertEqual(none, .NoTrustedHeader)

        let head = try node.updateHead(headerRlp: devnet.headerRlp)
        XCTAssertEqual(head.number, 0)
        XCTAssertEqual(head.hash, try devnet.blockHash)
        let status = try node.status()
        XCTAssertEqual(status.newestBlock, 0)
        XCTAssertGreaterThanOrEqual(status.peers, 1)
        XCTAssertTrue(status.enr.hasPrefix("enr:"), status.enr)

        // Balance: a decimal string, exact (this one is beyond a UInt64).
        let account = try node.queryAccount(address: whale, block: .latest)
        XCTAssertTrue(account.exists)
        XCTAssertEqual(account.nonce, 0)
        XCTAssertEqual(account.balance, whaleBalance)
        XCTAssertNil(UInt64(account.balance))
        XCTAssertEqual(account.block.hash, try devnet.blockHash)

        let slot = try node.queryStorage(address: deposit, slot: "0x22", block: .number(number: 0))
        XCTAssertEqual(slot.value, depositSlot22)
        let code = try node.getCode(address: deposit, block: .hash(hash: devnet.blockHash))
        XCTAssertEqual(code.code.count, depositCodeBytes)
        XCTAssertEqual(code.code.prefix(4), Data(hex: "60806040"))

        let absent = try node.queryAccount(address: "0x" + String(repeating: "77", count: 20), block: .latest)
        XCTAssertFalse(absent.exists)
        XCTAssertEqual(absent.balance, "0")
    }

    /// The devnet's beacon API serves portal-spec-tests' mainnet Deneb objects: this checkpoint
    /// and the heads they prove (tests/beacon_light_client.rs checks them against the
    /// execution branches). No bootnodes: the heads come from the light client alone.
    func testTheLightClientFollowsABeaconApi() async throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("portal-state-swift-beacon-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        var config = defaultNodeConfig(dataDir: dir.path)
        config.storageCapacityBytes = 0
        let node = try Node.start(config: config)
        defer { try? node.stop() }
        XCTAssertNil(try node.status().lightClient)
        let checkpoint = "0x33d75f8506929d950a6d9e43508e92e50a072a39978821900e3a2e261f80ddbf"
        try node.startLightClient(checkpoint: checkpoint, beaconApiUrls: [devnet.beaconApi])
        var status = try node.status()
        for _ in 0..<600 where status.lightClient?.optimisticBlock != 21_038_166 {
            try await Task.sleep(nanoseconds: 50_000_000)
            status = try node.status()
        }
        let light = try XCTUnwrap(status.lightClient)
        XCTAssertEqual(light.checkpoint, checkpoint)
        XCTAssertEqual(light.finalizedSlot, 10_248_384)
        XCTAssertEqual(light.optimisticSlot, 10_248_457)
        XCTAssertEqual(light.finalizedBlock, 21_038_093)
        XCTAssertEqual(light.optimisticBlock, 21_038_166)
        XCTAssertNil(light.lastError)
        XCTAssertEqual(light.refusedObjects, 0)
        XCTAssertEqual(status.newestBlock, 21_038_166)
    }

    func testAsyncFunctionsAnswerToo() async throws {
        let node = try startNode("async")
        defer { try? node.stop() }
        _ = try node.updateHead(headerRlp: devnet.headerRlp)
        async let account = node.queryAccountAsync(address: deposit, block: .latest)
        async let code = node.getCodeAsync(address: deposit, block: .latest)
        async let slot = node.queryStorageAsync(address: deposit, slot: "0x22", block: .latest)
        let answers = try await (account, code, slot)
        XCTAssertTrue(answers.0.exists)
        XCTAssertEqual(answers.1.code.count, depositCodeBytes)
        XCTAssertEqual(answers.2.value, depositSlot22)
    }

    func testContractCallsThroughTheNetwork() async throws {
        let node = try startNode("call")
        defer { try? node.stop() }
        _ = try node.updateHead(headerRlp: devnet.headerRlp)

        let root = try node.call(request: request(Data(hex: "c5f2892f")!), block: .latest)  // get_deposit_root()
        XCTAssertTrue(root.success)
        XCTAssertEqual(root.returnData.hex, depositRoot)
        // get_deposit_count(): ABI bytes of length 8, all zero (an empty deposit tree).
        let count = try await node.callAsync(request: request(Data(hex: "621fd130")!), block: .latest)
        XCTAssertEqual(count.returnData.count, 96)
        XCTAssertEqual(count.returnData[32..<64], Data(repeating: 0, count: 31) + Data([8]))
        XCTAssertEqual(count.returnData[64..<72], Data(count: 8))

        let gas = try node.estimateGas(request: request(Data(hex: "c5f2892f")!), block: .latest)
        XCTAssertGreaterThan(gas.gas, 21_000)
        XCTAssertLessThan(gas.gas, 30_000_000)
        let gasAsync = try await node.estimateGasAsync(request: request(Data(hex: "c5f2892f")!), block: .latest)
        XCTAssertEqual(gasAsync.gas, gas.gas)

        var bad = request(Data(hex: "c5f2892f")!)
        bad.value = "lots"
        let error = await nodeError { try node.call(request: bad, block: .latest) }
        guard case .InvalidInput? = error else { return XCTFail("\(String(describing: error))") }
    }

    func testAPanicInsideACallIsAnError() async throws {
        let node = try startNode("panic")
        defer { try? node.stop() }
        _ = try node.updateHead(headerRlp: devnet.headerRlp)

        let blocking = await nodeError { try node.call(request: request(panicInCall), block: .latest) }
        guard case .Internal(let reason)? = blocking else {
            return XCTFail("\(String(describing: blocking))")
        }
        XCTAssertTrue(reason.contains("panicked"), reason)
        let viaAsync = await nodeError {
            try await node.callAsync(request: request(panicInCall), block: .latest)
        }
        guard case .Internal? = viaAsync else { return XCTFail("\(String(describing: viaAsync))") }

        // The process lives on and so does the node.
        let root = try node.call(request: request(Data(hex: "c5f2892f")!), block: .latest)
        XCTAssertEqual(root.returnData.hex, depositRoot)
    }

    func testErrorsAreTyped() async throws {
        let node = try startNode("errors")
        _ = try node.updateHead(headerRlp: devnet.headerRlp)

        let short = await nodeError { try node.queryAccount(address: "0x1234", block: .latest) }
        guard case .InvalidInput(let reason)? = short else { return XCTFail("\(String(describing: short))") }
        XCTAssertTrue(reason.contains("40 hex digits"), reason)
        let typo = await nodeError {  // a checksum typo
            try node.queryAccount(address: String(whale.dropLast()) + "B", block: .latest)
        }
        guard case .InvalidInput(let reason)? = typo else { return XCTFail("\(String(describing: typo))") }
        XCTAssertTrue(reason.contains("checksum"), reason)
        let slot = await nodeError { try node.queryStorage(address: deposit, slot: "22", block: .latest) }
        guard case .InvalidInput? = slot else { return XCTFail("\(String(describing: slot))") }
        let unknown = await nodeError { try node.queryAccount(address: deposit, block: .number(number: 5)) }
        guard case .UnknownBlock? = unknown else { return XCTFail("\(String(describing: unknown))") }
        let header = await nodeError { try node.updateHead(headerRlp: Data([0xc0, 0x01])) }
        guard case .InvalidInput? = header else { return XCTFail("\(String(describing: header))") }
        let hash = await nodeError { try node.queryAccount(address: deposit, block: .hash(hash: "0xnothex")) }
        XCTAssertNotNil(hash)
        // The message says what is wrong (Rust's Display of the error).
        XCTAssertTrue(short.map { "\($0)".contains("40 hex digits") } ?? false)

        try node.stop()
        try node.stop()  // idempotent
        let stopped = await nodeError { try node.queryAccount(address: deposit, block: .latest) }
        XCTAssertEqual(stopped, .NotRunning)
        let status = await nodeError { try node.status() }
        XCTAssertEqual(status, .NotRunning)
        let stoppedAsync = await nodeError { try await node.getCodeAsync(address: deposit, block: .latest) }
        XCTAssertEqual(stoppedAsync, .NotRunning)
    }

    func testPauseResumeAndNetworkChanged() async throws {
        let node = try startNode("pause")
        defer { try? node.stop() }
        _ = try node.updateHead(headerRlp: devnet.headerRlp)
        try node.pause()
        XCTAssertTrue(try node.status().paused)
        XCTAssertTrue(try node.resume())  // a cached peer answered
        XCTAssertFalse(try node.status().paused)
        XCTAssertGreaterThanOrEqual(try node.networkChanged(), 1)  // cached peers answered again
        let account = try node.queryAccount(address: whale, block: .latest)
        XCTAssertEqual(account.balance, whaleBalance)
    }

    func testAWatchHearsTheVerifiedBaseline() async throws {
        // The devnet holds the whole holesky genesis state: the watch's first event is the
        // whale's verified balance and the deposit contract's slot 0x22 at the genesis block.
        let node = try startNode("watch")
        defer { try? node.stop() }
        _ = try node.updateHead(headerRlp: devnet.headerRlp)
        let listener = CollectingListener()
        let watchId = try node.watch(address: deposit, slots: ["0x22"], listener: listener)
        guard let event = listener.first(within: 60) else {
            return XCTFail("no baseline event")
        }
        XCTAssertEqual(event.watchId, watchId)
        XCTAssertTrue(event.baseline)
        XCTAssertEqual(event.account.block.hash, try devnet.blockHash)
        XCTAssertEqual(event.slots.map { $0.value }, [depositSlot22])
        XCTAssertTrue(try node.unwatch(watchId: watchId))
        XCTAssertFalse(try node.unwatch(watchId: watchId))
        let bad = await nodeError { try node.watch(address: "0x1234", slots: [], listener: listener) }
        guard case .InvalidInput? = bad else { return XCTFail("\(String(describing: bad))") }
    }

    func testALogSinkReceivesLines() throws {
        let sink = CollectingSink()
        setLogSink(sink: sink)
        defer { clearLogSink() }
        let node = try startNode("logs")
        try node.stop()
        let messages = sink.records.filter { $0.target.hasPrefix("portal_state") }
        let started = messages.filter { $0.message.contains("node started") }
        XCTAssertFalse(started.isEmpty, "\(messages)")
        XCTAssertTrue(messages.contains { $0.message.contains("node stopped") }, "\(messages)")
        XCTAssertEqual(started.first?.level, .info)
    }
}
