import Foundation
import TillyardKit

/// Lotus's members for the demo: 300 members imported from a generated list (the way a shop brings
/// its old member list), among them 王芳 on 13800138000, some with stored value and birthdays this
/// month; the demo's trading then names a member on about a third of its sales, so points, tiers,
/// visits and favourite categories come from real sales.
enum DemoMembers {
    static let count = 300

    /// Imports the member list and returns the members' ids (for the demo trading to name).
    static func seed(_ services: AppServices) async throws -> [MemberID] {
        let owner = try await services.access.principal(commandLineUser: "lotus.owner")
        var program = try await services.members.program(merchantId: nil, by: owner)
        program.offers.append(OfferRule(code: "big-spenders", name: "Big spenders", kind: .topSpend, minimumSpend: 50_000,
                                        message: "贵宾专享 满 200 减 20 · VIP: ¥20 off ¥200"))
        program.offers.append(OfferRule(code: "dairy-fans", name: "Dairy fans", kind: .favouriteCategory, category: "乳品",
                                        message: "乳品第二件半价 · Second dairy item half price"))
        _ = try await services.members.saveProgram(program, expectedVersion: program.version, by: owner)

        let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
        let given = ["芳", "伟", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平"]
        var dice = DemoSales.Dice(state: 8_675_309)
        let month = Calendar(identifier: .gregorian).component(.month, from: Date())
        var csv = MemberService.csvColumns.joined(separator: ",") + "\n"
        for index in 0..<count {
            let phone = index == 0 ? "13800138000" : "139" + String(format: "%08d", 10_000_000 + index * 7_919 % 89_999_999)
            let name = index == 0 ? "王芳" : "\(surnames[dice.next(surnames.count)])\(given[dice.next(given.count)])"
            // One in six has a birthday this month (the birthday offer has someone to find).
            let birthMonth = index % 6 == 0 ? month : 1 + dice.next(12)
            let birthday = String(format: "%04d-%02d-%02d", 1960 + dice.next(45), birthMonth, 1 + dice.next(28))
            let tags = index % 10 == 0 ? "VIP" : index % 7 == 0 ? "企业客户" : ""
            let storedValue = index % 8 == 0 ? String(100 * (1 + dice.next(10))) + ".00" : "0"
            let card = String(format: "8800%08d", index + 1)
            csv += [phone, name, card, birthday, tags, String(dice.next(500)), storedValue, dice.next(3) == 0 ? "no" : "yes"].joined(separator: ",") + "\n"
        }
        _ = try await services.members.importMembers(csv: csv, merchantId: nil, by: owner)
        var ids: [MemberID] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        repeat {
            let found = try await services.members.list(merchantId: nil, filter: MemberFilter(), page: page, by: owner)
            ids += found.items.map(\.id)
            page.cursor = found.nextCursor
        } while page.cursor != nil
        return ids.sorted()
    }
}
