import Foundation

/// Where a terminal's reported position came from; each source has its own uncertainty.
public enum LocationSource: String, Codable, Sendable, CaseIterable {
    case gps
    /// Located from the Wi-Fi access points it sees.
    case wifi
    /// Located from the base station (LBS) it is attached to.
    case cell
    /// Located from its public IP address (city level at best).
    case ip

    /// The uncertainty, metres, when the terminal does not report one: typical figures for each
    /// source (a phone-grade GPS, Wi-Fi positioning, a Chinese urban cell, IP geolocation).
    public var typicalAccuracy: Double {
        switch self {
        case .gps: return 50
        case .wifi: return 150
        case .cell: return 1_500
        case .ip: return 25_000
        }
    }
}

/// One position a terminal reported in a heartbeat.
public struct LocationReport: Codable, Sendable, Equatable {
    public var latitude: Double
    public var longitude: Double
    public var source: LocationSource
    /// Radius of uncertainty the terminal gave, metres; the source's typical one when nil.
    public var accuracy: Double?
    public var reportedAt: Date

    public init(latitude: Double, longitude: Double, source: LocationSource, accuracy: Double? = nil, reportedAt: Date) {
        self.latitude = latitude
        self.longitude = longitude
        self.source = source
        self.accuracy = accuracy
        self.reportedAt = reportedAt
    }

    /// The uncertainty used: what the terminal said, never less than 10 m, else the source's typical one.
    public var uncertainty: Double { max(10, accuracy ?? source.typicalAccuracy) }
}

/// What an acquirer does about a moved terminal.
public enum RelocationAction: String, Codable, Sendable, CaseIterable {
    /// Raise an alert; the terminal keeps working.
    case alert
    /// Raise an alert and refuse the terminal's new transactions until an inspector clears it.
    case block
}

/// The acquirer's relocation policy: how far a terminal may be from its placement, tighter for a
/// fixed shop than for a mobile business, and how many reports must agree before an alert.
public struct RelocationPolicy: Codable, Sendable, Equatable {
    public var fixedToleranceMeters: Double
    public var mobileToleranceMeters: Double
    /// Consecutive reports that must each be certainly outside (one stray fix is not a move).
    public var confirmations: Int
    public var action: RelocationAction

    public init(fixedToleranceMeters: Double = 500, mobileToleranceMeters: Double = 30_000, confirmations: Int = 2, action: RelocationAction = .alert) {
        self.fixedToleranceMeters = fixedToleranceMeters
        self.mobileToleranceMeters = mobileToleranceMeters
        self.confirmations = confirmations
        self.action = action
    }

    /// The tolerance for a merchant's kind of business.
    public func tolerance(for business: BusinessType) -> Double {
        business == .fixed ? fixedToleranceMeters : mobileToleranceMeters
    }
}

/// A relocation finding with its evidence: the reports that were outside, how far, from which
/// sources, against which placement and tolerance.
public struct RelocationFinding: Codable, Sendable, Equatable {
    public var placement: Placement
    public var toleranceMeters: Double
    public var business: BusinessType
    public var evidence: [RelocationEvidence]
    public var action: RelocationAction

    /// The nearest any confirming report could have been (the finding's sure distance), metres.
    public var certainDistanceMeters: Double { evidence.map(\.certainDistanceMeters).min() ?? 0 }
}

/// One report counted against a placement.
public struct RelocationEvidence: Codable, Sendable, Equatable {
    public var report: LocationReport
    /// Distance from the placement to the reported point, metres.
    public var distanceMeters: Double
    /// Distance less the report's uncertainty: how far it is at the least.
    public var certainDistanceMeters: Double
}

/// Relocation (移机) detection: pure, so its boundary is tested exactly.
public enum RelocationRules {
    /// Great-circle distance in metres (haversine on a sphere of the Earth's mean radius; within
    /// 0.5% of the ellipsoid, far below any tolerance used here).
    public static func distance(latitude: Double, longitude: Double, toLatitude: Double, toLongitude: Double) -> Double {
        let radius = 6_371_008.8
        let phi1 = latitude * .pi / 180, phi2 = toLatitude * .pi / 180
        let deltaPhi = (toLatitude - latitude) * .pi / 180, deltaLambda = (toLongitude - longitude) * .pi / 180
        let a = sin(deltaPhi / 2) * sin(deltaPhi / 2) + cos(phi1) * cos(phi2) * sin(deltaLambda / 2) * sin(deltaLambda / 2)
        return 2 * radius * atan2(a.squareRoot(), (1 - a).squareRoot())
    }

    /// A report's evidence against a placement.
    public static func evidence(_ report: LocationReport, placement: Placement) -> RelocationEvidence {
        let meters = distance(latitude: placement.latitude, longitude: placement.longitude, toLatitude: report.latitude, toLongitude: report.longitude)
        return RelocationEvidence(report: report, distanceMeters: meters, certainDistanceMeters: max(0, meters - report.uncertainty))
    }

    /// A finding when the last `policy.confirmations` reports (oldest first in `reports`) are each
    /// certainly beyond the tolerance (distance less uncertainty greater than it: a point exactly at
    /// the tolerance is inside). A coarse fix (an IP location) can never confirm a shop's move, since
    /// its uncertainty alone is wider than a shop's tolerance; nothing is found then.
    public static func check(_ reports: [LocationReport], placement: Placement, business: BusinessType, policy: RelocationPolicy) -> RelocationFinding? {
        let needed = max(1, policy.confirmations)
        guard reports.count >= needed else { return nil }
        let tolerance = policy.tolerance(for: business)
        let recent = reports.suffix(needed).map { evidence($0, placement: placement) }
        guard recent.allSatisfy({ $0.certainDistanceMeters > tolerance }) else { return nil }
        return RelocationFinding(placement: placement, toleranceMeters: tolerance, business: business, evidence: recent, action: policy.action)
    }
}
