import Foundation

/// Tag for terminal model ids.
public enum TerminalModelTag {}
/// Id of a certified terminal model.
public typealias ModelID = Identifier<TerminalModelTag>

/// The kinds of POS hardware an acquirer deploys.
public enum TerminalClass: String, Codable, Sendable, CaseIterable {
    /// Traditional countertop POS (传统POS).
    case traditional
    /// Mobile/wireless POS (移动POS).
    case mobile
    /// Smart Android POS (智能POS).
    case smartAndroid = "smart_android"
    /// QR code box / scanner (扫码盒子).
    case qrBox = "qr_box"
    /// Card reader attached to a phone or PC (读卡器).
    case cardReader = "card_reader"
}

/// Why a model may or may not be activated or bound now.
public enum CertificationStatus: String, Codable, Sendable {
    case valid
    /// The PCI PTS approval has expired.
    case ptsExpired = "pts_expired"
    /// No UnionPay (银联) certification on record.
    case notUnionPayCertified = "not_unionpay_certified"
}

/// A terminal model in the acquirer's catalogue, with its certifications.
///
/// Only certified models with an unexpired PCI PTS approval may be bound to merchants:
/// an expired approval puts the model on the compliance list.
public struct TerminalModel: Codable, Sendable, Equatable {
    public var id: ModelID
    /// The acquirer (tenant root) whose catalogue this is.
    public var orgId: OrgID
    public var manufacturer: String
    public var name: String
    public var terminalClass: TerminalClass
    /// e.g. ["4G", "WiFi", "Bluetooth"].
    public var connectivity: [String]
    /// PCI PTS POI approval number, e.g. "4-30310".
    public var ptsApproval: String
    public var ptsExpiry: Date
    public var unionPayCertified: Bool
    public var unionPayCertificate: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(id: ModelID, orgId: OrgID, manufacturer: String, name: String, terminalClass: TerminalClass,
                connectivity: [String], ptsApproval: String, ptsExpiry: Date, unionPayCertified: Bool,
                unionPayCertificate: String?, createdAt: Date, updatedAt: Date, version: Int = 1) {
        self.id = id
        self.orgId = orgId
        self.manufacturer = manufacturer
        self.name = name
        self.terminalClass = terminalClass
        self.connectivity = connectivity
        self.ptsApproval = ptsApproval
        self.ptsExpiry = ptsExpiry
        self.unionPayCertified = unionPayCertified
        self.unionPayCertificate = unionPayCertificate
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    /// Whether the model may be activated or bound at `date`, and if not, why.
    public func certification(at date: Date) -> CertificationStatus {
        if ptsExpiry <= date { return .ptsExpired }
        if !unionPayCertified { return .notUnionPayCertified }
        return .valid
    }
}
