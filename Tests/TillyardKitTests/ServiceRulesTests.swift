import Foundation
import Testing
import TillyardKit

/// The service desk's pure rules: the ticket state machine, SLA targets by kind and priority, breaches,
/// and the inspection plan's due dates.
@Suite struct ServiceRulesTests {
    @Test func everyStateReachesClosedAndOnlyTheListedMovesAreLegal() throws {
        // From each state some path of legal moves ends closed; closed only reopens.
        for start in TicketState.allCases {
            var seen: Set<TicketState> = [start], frontier = [start]
            while let state = frontier.popLast() {
                for next in (TicketLifecycle.transitions[state] ?? [:]).values where seen.insert(next).inserted { frontier.append(next) }
            }
            #expect(seen.contains(.closed), "\(start) cannot reach closed")
        }
        #expect(TicketLifecycle.transitions[.closed] == [.reopen: .assigned])
        for state in TicketState.allCases {
            for action in TicketAction.allCases {
                let listed = TicketLifecycle.transitions[state]?[action]
                if let listed {
                    #expect(try TicketLifecycle.next(from: state, by: action) == listed)
                } else {
                    #expect(throws: DomainError.self, "\(state) \(action)") { try TicketLifecycle.next(from: state, by: action) }
                }
            }
        }
        #expect(!TicketState.resolved.isOpen && !TicketState.closed.isOpen && TicketState.waitingParts.isOpen)
    }

    @Test func repairsAreAnsweredInFourHoursAndFixedInADayAndPriorityScalesThat() {
        #expect(ServiceRules.level(.repair, .normal) == ServiceLevel(responseHours: 4, fixHours: 24))
        #expect(ServiceRules.level(.repair, .urgent) == ServiceLevel(responseHours: 2, fixHours: 12))
        #expect(ServiceRules.level(.repair, .low) == ServiceLevel(responseHours: 8, fixHours: 48))
        for kind in TicketKind.allCases {
            let levels = TicketPriority.allCases.map { ServiceRules.level(kind, $0) }
            #expect(levels.allSatisfy { $0.responseHours > 0 && $0.responseHours <= $0.fixHours }, "\(kind)")
            // low, normal, high, urgent: ever shorter.
            #expect(zip(levels, levels.dropFirst()).allSatisfy { $0.fixHours > $1.fixHours }, "\(kind)")
        }
    }

    @Test func aBreachIsAMissedDueTimeAtTheInstantOrWhenTheWorkHappened() {
        let opened = Date(timeIntervalSince1970: 1_800_000_000)
        var ticket = ServiceTicket(id: .generate(now: opened), orgId: OrgID(rawValue: "o"), merchantId: OrgID(rawValue: "m"), merchantName: "M",
                                   mid: nil, terminalId: nil, sn: nil, tid: nil, kind: .repair, priority: .normal, source: .hotline, caller: "c",
                                   callerPhone: nil, symptom: "s", openedBy: "desk", openedAt: opened,
                                   responseDueAt: opened.addingTimeInterval(4 * 3600), fixDueAt: opened.addingTimeInterval(24 * 3600), updatedAt: opened)
        #expect(ServiceRules.breaches(ticket, at: opened.addingTimeInterval(4 * 3600)) == (false, false), "due exactly now is not late")
        #expect(ServiceRules.breaches(ticket, at: opened.addingTimeInterval(4 * 3600 + 1)) == (true, false))
        ticket.respondedAt = opened.addingTimeInterval(3600)
        #expect(ServiceRules.breaches(ticket, at: opened.addingTimeInterval(25 * 3600)) == (false, true))
        ticket.resolvedAt = opened.addingTimeInterval(20 * 3600)
        #expect(ServiceRules.breaches(ticket, at: opened.addingTimeInterval(100 * 3600)) == (false, false), "resolved in time stays in time")
    }

    @Test func inspectionsAreDueByTheMerchantsKindOfBusiness() throws {
        let plan = InspectionPlan(fixedIntervalDays: 365, mobileIntervalDays: 90, leadDays: 30)
        let since = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(plan.due(since: since, businessType: .fixed) == since.addingTimeInterval(365 * 86400))
        #expect(plan.due(since: since, businessType: .mobile) == since.addingTimeInterval(90 * 86400))
        #expect(try InspectionPlan().checked() == InspectionPlan(fixedIntervalDays: 365, mobileIntervalDays: 90, leadDays: 30))
        #expect(throws: DomainError.self) { try InspectionPlan(fixedIntervalDays: 366).checked() }
        #expect(throws: DomainError.self) { try InspectionPlan(mobileIntervalDays: 3).checked() }
        #expect(!InspectionChecklist(devicePresent: true, sealsIntact: false, notRelocated: true, signage: true, testTransaction: true).allPassed)
    }
}
