import Foundation
import TillyardKit
import TillyardStore

/// The timed queries: each goes through `SQLPersistence.read` to the product's
/// `TerminalRepository`, as `EstateService.search` does for a console or API request.
/// Values vary between calls and are taken from the generated data, so every query finds something.
struct EstateQueries: Sendable {
    let store: SQLPersistence
    let estate: LoadedEstate

    /// What an acquirer's staff sees: the whole estate.
    private var rootPath: String { estate.tree.root.path }

    /// Times every kind of query, in the order of the printed table.
    func measureAll(iterations: Int, warmup: Int) async throws -> [Measurement] {
        let samples = estate.samples
        let tree = estate.tree
        let merchants = samples.boundMerchants
        let states = TerminalState.allCases
        let versions = TerminalGenerator.appVersions.values + TerminalGenerator.firmwareVersions.values
        let persons = TerminalGenerator.responsiblePersons
        let sample = { (index: Int) in samples.terminals[(index * 7_919) % samples.terminals.count] }
        var results: [Measurement] = []

        func time(_ name: String, _ call: (Int) async throws -> Int) async throws {
            results.append(try await Measurement.run(name, iterations: iterations, warmup: warmup, call))
        }
        func search(_ filter: TerminalFilter, under path: String? = nil, cursor: String? = nil) async throws -> Int {
            let root = rootPath
            return try await store.read { repos in
                try await repos.terminals.search(visibleUnder: path ?? root, filter: filter, page: PageRequest(cursor: cursor))
            }.items.count
        }

        // SN prefix as typed: all but the last 2 or 3 characters, i.e. 100 or 1,000 terminals of one make.
        try await time("SN prefix (100 or 1,000 matches)") { index in
            let sn = sample(index).sn
            return try await search(TerminalFilter(sn: String(sn.dropLast(2 + index % 2))))
        }
        try await time("TID") { try await search(TerminalFilter(tid: sample($0).tid)) }
        try await time("MID (open binding)") { try await search(TerminalFilter(mid: merchants[($0 * 31) % merchants.count].mid)) }
        try await time("state") { try await search(TerminalFilter(state: states[$0 % states.count])) }
        try await time("model") { try await search(TerminalFilter(modelId: tree.models[$0 % tree.models.count].id)) }
        try await time("region (orgPath)") { try await search(TerminalFilter(orgPath: tree.regions[$0 % tree.regions.count].path)) }
        try await time("responsible person") { try await search(TerminalFilter(responsiblePerson: persons[($0 * 13) % persons.count])) }
        try await time("version (app or firmware)") { try await search(TerminalFilter(version: versions[$0 % versions.count])) }
        try await time("state + model + region") { index in
            try await search(TerminalFilter(state: states[index % states.count], modelId: tree.models[(index / states.count) % tree.models.count].id,
                                            orgPath: tree.regions[index % tree.regions.count].path))
        }
        try await time("visible under a merchant (merchant user)") { index in
            try await search(TerminalFilter(), under: merchants[(index * 31) % merchants.count].org.path)
        }

        // Deep paging: the cursor of page 50 of each state, found by following nextCursor from page 1.
        var deepCursors: [(TerminalState, String)] = []
        for state in states {
            var cursor: String?
            for _ in 1..<50 {
                let request = PageRequest(cursor: cursor)
                let page = try await store.read { [rootPath] repos in
                    try await repos.terminals.search(visibleUnder: rootPath, filter: TerminalFilter(state: state), page: request)
                }
                guard let next = page.nextCursor else { cursor = nil; break }
                cursor = next
            }
            if let cursor { deepCursors.append((state, cursor)) }
        }
        if !deepCursors.isEmpty {
            try await time("page 50 of a state (cursor)") { index in
                let (state, cursor) = deepCursors[index % deepCursors.count]
                return try await search(TerminalFilter(state: state), cursor: cursor)
            }
        }

        try await time("count(state), whole estate") { [rootPath] index in
            try await store.read { try await $0.terminals.count(visibleUnder: rootPath, state: states[index % states.count]) }
        }
        try await time("count, one merchant") { index in
            let path = merchants[(index * 31) % merchants.count].org.path
            return try await store.read { try await $0.terminals.count(visibleUnder: path, state: nil) }
        }
        // The ceiling: one row by primary key through the same pool, repository and decoding.
        try await time("ceiling: find(id) by primary key") { index in
            let id = sample(index).id
            return try await store.read { try await $0.terminals.find(id) } == nil ? 0 : 1
        }
        return results
    }
}
