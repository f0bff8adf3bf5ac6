import Crypto
import Foundation

/// AES-256-GCM under a key derived by HKDF from the installation secret, one key per purpose
/// (documents, terminal secrets), with the owner's id bound in as associated data so a sealed blob
/// cannot be moved to another row or file.
public struct InstallationCipher: Sendable {
    private let key: SymmetricKey

    /// `purpose` labels the derivation ("documents" → info "tillyard documents v1"): the uses stay independent.
    public init(secret: Data, purpose: String) {
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), info: Data("tillyard \(purpose) v1".utf8),
                                     outputByteCount: 32)
    }

    /// Nonce, ciphertext and tag in one blob.
    public func seal(_ bytes: [UInt8], boundTo owner: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(bytes, using: key, authenticating: Data(owner.utf8))
        guard let combined = box.combined else { throw DomainError.conflict("cannot encrypt") }
        return Array(combined)
    }

    /// The plain bytes; nil when the blob was altered, belongs to another owner or another key.
    public func open(_ blob: [UInt8], boundTo owner: String) -> [UInt8]? {
        guard let box = try? AES.GCM.SealedBox(combined: blob),
              let plain = try? AES.GCM.open(box, using: key, authenticating: Data(owner.utf8)) else { return nil }
        return Array(plain)
    }
}
