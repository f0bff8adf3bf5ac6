import Foundation

/// Something an operator (or the relocation guard) asks one terminal to do; delivered in heartbeat
/// replies until the terminal acknowledges it.
public enum TerminalCommandKind: String, Codable, Sendable, CaseIterable {
    /// Stop starting transactions (the server also refuses the terminal's new ones).
    case lock
    case unlock
    case reboot
    /// Upload the terminal's logs for the support desk.
    case uploadLogs = "upload_logs"
}

/// How a command ended on the terminal.
public enum CommandOutcome: String, Codable, Sendable, CaseIterable {
    case done, failed
}

/// One command for one terminal.
public struct TerminalCommand: Codable, Sendable, Equatable {
    public var id: String
    public var terminalId: TerminalID
    public var kind: TerminalCommandKind
    /// Why, in the operator's words (shown on the terminal for lock).
    public var reason: String?
    /// Username of the operator, or "relocation" for the automatic block.
    public var issuedBy: String
    public var issuedAt: Date
    /// When the terminal acknowledged it, and how it ended.
    public var doneAt: Date?
    public var outcome: CommandOutcome?
    public var detail: String?

    public init(id: String, terminalId: TerminalID, kind: TerminalCommandKind, reason: String?, issuedBy: String, issuedAt: Date,
                doneAt: Date? = nil, outcome: CommandOutcome? = nil, detail: String? = nil) {
        self.id = id
        self.terminalId = terminalId
        self.kind = kind
        self.reason = reason
        self.issuedBy = issuedBy
        self.issuedAt = issuedAt
        self.doneAt = doneAt
        self.outcome = outcome
        self.detail = detail
    }
}

/// What a command looks like in a heartbeat reply.
public struct PendingCommand: Codable, Sendable, Equatable {
    public var id: String
    public var kind: TerminalCommandKind
    public var reason: String?

    public init(id: String, kind: TerminalCommandKind, reason: String?) {
        self.id = id
        self.kind = kind
        self.reason = reason
    }
}

/// The body of `POST /terminal/v1/commands/{id}/ack`.
public struct CommandAck: Codable, Sendable, Equatable {
    public var outcome: CommandOutcome
    /// What happened, for the operator (at most 500 characters).
    public var detail: String?

    public enum CodingKeys: String, CodingKey, CaseIterable { case outcome, detail }

    public init(outcome: CommandOutcome, detail: String? = nil) {
        self.outcome = outcome
        self.detail = detail
    }
}

/// Software a terminal is offered in a heartbeat reply: what to fetch, how to verify it, and
/// where to report the result.
public struct UpdateOffer: Codable, Sendable, Equatable {
    public var campaignId: String
    public var packageId: String
    /// "app" or "firmware".
    public var kind: String
    public var version: String
    /// Lowercase hex SHA-256 of the file; the terminal installs nothing that does not match.
    public var sha256: String
    public var size: Int64
    /// Signed GET of the file, relative to the server (`/terminal/v1/packages/{id}`).
    public var url: String

    public init(campaignId: String, packageId: String, kind: String, version: String, sha256: String, size: Int64, url: String) {
        self.campaignId = campaignId
        self.packageId = packageId
        self.kind = kind
        self.version = version
        self.sha256 = sha256
        self.size = size
        self.url = url
    }
}

/// How an install ended on the terminal.
public enum InstallOutcome: String, Codable, Sendable, CaseIterable {
    case installed, failed
}

/// The body of `POST /terminal/v1/updates/{campaignId}/result`.
public struct InstallReport: Codable, Sendable, Equatable {
    public var packageId: String
    public var outcome: InstallOutcome
    /// Why it failed (checksum mismatch, no space…), at most 500 characters.
    public var detail: String?

    public enum CodingKeys: String, CodingKey, CaseIterable { case packageId, outcome, detail }

    public init(packageId: String, outcome: InstallOutcome, detail: String? = nil) {
        self.packageId = packageId
        self.outcome = outcome
        self.detail = detail
    }
}

/// What a heartbeat is answered with: the server's time, when to beat again, and the work waiting
/// for the terminal. Everything here comes from memory on the server, so the answer stays cheap.
public struct HeartbeatReply: Codable, Sendable, Equatable {
    public var serverTime: Date
    public var nextHeartbeatSeconds: Int
    /// The version of the terminal's effective parameters: fetch `GET /terminal/v1/parameters`
    /// when it differs from the one the terminal holds.
    public var parametersVersion: String
    /// True while the terminal must not start transactions (operator lock or relocation block).
    public var locked: Bool
    public var commands: [PendingCommand]
    /// Software to install, when a campaign includes this terminal now.
    public var update: UpdateOffer?

    public init(serverTime: Date, nextHeartbeatSeconds: Int, parametersVersion: String, locked: Bool = false, commands: [PendingCommand] = [],
                update: UpdateOffer? = nil) {
        self.serverTime = serverTime
        self.nextHeartbeatSeconds = nextHeartbeatSeconds
        self.parametersVersion = parametersVersion
        self.locked = locked
        self.commands = commands
        self.update = update
    }

    /// The reply as `WireJSON.encoder()` writes it (sorted keys), written directly, for the common
    /// reply with nothing to do: most of a fleet's heartbeats get it, and an encoder costs more than
    /// the rest of the answer. Nil when there are commands or an update (the encoder writes those).
    public var idleJSON: String? {
        guard commands.isEmpty, update == nil else { return nil }
        return #"{"commands":[],"locked":\#(locked),"nextHeartbeatSeconds":\#(nextHeartbeatSeconds),"parametersVersion":"#
            + WireJSON.quoted(parametersVersion) + #","serverTime":""# + serverTime.iso8601 + #""}"#
    }
}

/// What a terminal did with a card or QR payment: the record it uploads (possibly long after, from
/// its offline queue). Never a full card number: `maskedPan` is checked like a register's.
public struct TerminalTransaction: Codable, Sendable, Equatable {
    /// Made by the terminal (a UUID); the upload is idempotent on it, so a retry never counts twice.
    public var id: String
    public var at: Date
    public var kind: TerminalTransactionKind
    /// Minor units (fen).
    public var amount: Int64
    public var currency: String
    public var tender: TenderKind
    public var approved: Bool
    /// The host's response code (ISO 8583 field 39: "00" approved, "05" do not honour, "51" insufficient funds…).
    public var responseCode: String
    public var maskedPan: String?
    public var authCode: String?
    public var rrn: String?
    /// The merchant and terminal numbers the host knows the terminal by (checked against its binding when given).
    public var mid: String?
    public var tid: String?
    public var cardType: CardType?
    public var entryMode: EntryMode?
    /// Where the terminal was, when it knows.
    public var latitude: Double?
    public var longitude: Double?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case id, at, kind, amount, currency, tender, approved, responseCode, maskedPan, authCode, rrn, mid, tid, cardType, entryMode,
             latitude, longitude
    }

    public init(id: String, at: Date, kind: TerminalTransactionKind = .sale, amount: Int64, currency: String = "CNY", tender: TenderKind = .card,
                approved: Bool, responseCode: String, maskedPan: String? = nil, authCode: String? = nil, rrn: String? = nil,
                mid: String? = nil, tid: String? = nil, cardType: CardType? = nil, entryMode: EntryMode? = nil,
                latitude: Double? = nil, longitude: Double? = nil) {
        self.id = id
        self.at = at
        self.kind = kind
        self.amount = amount
        self.currency = currency
        self.tender = tender
        self.approved = approved
        self.responseCode = responseCode
        self.maskedPan = maskedPan
        self.authCode = authCode
        self.rrn = rrn
        self.mid = mid
        self.tid = tid
        self.cardType = cardType
        self.entryMode = entryMode
        self.latitude = latitude
        self.longitude = longitude
    }
}

/// Kinds of terminal transactions.
public enum TerminalTransactionKind: String, Codable, Sendable, CaseIterable {
    case sale, refund, void
    /// 预授权: an amount reserved on the card, moved by a completion.
    case preAuth = "pre_auth"
    /// 预授权完成: the money of a pre-authorisation taken.
    case completion
    /// 冲正: the terminal undoes a transaction whose answer it never got.
    case reversal
}

/// Kinds of card, as the host reports them.
public enum CardType: String, Codable, Sendable, CaseIterable {
    case debit, credit, prepaid, unknown
}

/// How the card or code was read.
public enum EntryMode: String, Codable, Sendable, CaseIterable {
    case chip, contactless, swipe, manual, fallback, qr
}

/// The body of `POST /terminal/v1/transactions`: up to 500 transactions, oldest first.
public struct TransactionUpload: Codable, Sendable, Equatable {
    public var transactions: [TerminalTransaction]
    public enum CodingKeys: String, CodingKey, CaseIterable { case transactions }
    public init(transactions: [TerminalTransaction]) { self.transactions = transactions }
}

/// The answer to an upload: which ids were stored now and which were already stored (a retry);
/// the terminal deletes both from its queue. Nothing else is ever left out: a batch is refused whole.
public struct TransactionUploadResult: Codable, Sendable, Equatable {
    public var stored: [String]
    public var duplicates: [String]
    public init(stored: [String], duplicates: [String]) {
        self.stored = stored
        self.duplicates = duplicates
    }
}
