import HummingbirdBcrypt
import TillyardKit

/// bcrypt password hashing (cost 12 by default: ~0.25 s per check on this class of machine,
/// slow enough to make offline guessing expensive).
public struct BcryptHasher: PasswordHasher {
    public let cost: UInt8

    public init(cost: UInt8 = 12) { self.cost = cost }

    public func hash(_ password: String) -> String { Bcrypt.hash(password, cost: cost) }

    public func verify(_ password: String, hash: String) -> Bool { Bcrypt.verify(password, hash: hash) }
}
