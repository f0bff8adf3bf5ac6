import Foundation
import Testing
@testable import TillyardKit

/// The register's pure rules: barcodes and scale labels, and the pricing engine.
@Suite struct BarcodeTests {
    @Test func gs1CheckDigits() throws {
        #expect(Barcodes.isValid("6901234567892", kind: .ean13))
        #expect(!Barcodes.isValid("6901234567893", kind: .ean13))
        #expect(Barcodes.isValid("96385074", kind: .ean8))
        #expect(Barcodes.isValid("036000291452", kind: .upcA))
        #expect(!Barcodes.isValid("03600029145", kind: .upcA))
        #expect(Barcodes.kind(of: "6901234567892") == .ean13 && Barcodes.kind(of: "SHELF-01") == .custom)
        #expect(Barcodes.isValid("A-1", kind: .custom) && !Barcodes.isValid("a b", kind: .custom))
        #expect(throws: DomainError.invalid("barcode", "is not a valid ean13 code (length or check digit)")) {
            try Barcodes.normalise("6901234567890", kind: .ean13)
        }
        #expect(try Barcodes.normalise(" shelf-7 ", kind: .custom) == "SHELF-7")
    }

    @Test func scaleLabelsCarryWeightOrPrice() throws {
        let weight = ScaleBarcodeFormat()
        try weight.validate()
        // 2 + 1 flag digit, item 00123, 01250 g, check digit.
        let body = "210012301250"
        let code = body + String(try #require(Barcodes.checkDigit(body)))
        #expect(weight.read(code) == .init(itemCode: "00123", grams: 1250, priceFen: nil))
        #expect(weight.read("6901234567892") == nil, "not a scale prefix")
        let wrong = (try #require(Barcodes.checkDigit(body)) + 1) % 10
        #expect(weight.read(body + String(wrong)) == nil, "a wrong check digit is no label")
        let price = ScaleBarcodeFormat(prefixes: ["28"], value: .price)
        let priced = "280012300899"
        #expect(price.read(priced + String(try #require(Barcodes.checkDigit(priced))))?.priceFen == 899)
        #expect(throws: DomainError.self) { try ScaleBarcodeFormat(prefixes: ["2"], itemDigits: 5, valueDigits: 5).validate() }
    }
}

@Suite struct PricingEngineTests {
    /// Wednesday 2026-11-25 10:30 in Shanghai.
    static let now = Date(timeIntervalSince1970: 1_795_573_800)
    static let context = PricingContext.at(now, timeZone: TimeZone(identifier: "Asia/Shanghai")!)

    static func promotion(_ rule: PromotionRule, _ name: String = "p", scope: PromotionScope = .everything,
                          window: TimeWindow = .always, stores: Set<OrgID>? = nil, members: Bool = false,
                          at offset: TimeInterval = 0) -> Promotion {
        Promotion(id: .generate(now: now.addingTimeInterval(offset)), name: name, rule: rule, scope: scope, window: window,
                  stores: stores, membersOnly: members)
    }

    @Test func localTimeComesFromTheStoresZone() {
        #expect(Self.context.weekday == 3 && Self.context.minuteOfDay == 10 * 60 + 30)
    }

    @Test func eachRuleAndRounding() {
        let cola = CartLine(sku: "COLA", category: "drinks", quantity: 3000, unitPrice: 350, memberPrice: 300)
        func priced(_ rule: PromotionRule, member: Bool = false) -> PricedLine {
            var context = Self.context
            context.isMember = member
            return PricingEngine.price([cola], promotions: [Self.promotion(rule)], context: context).lines[0]
        }
        #expect(priced(.percentOff(basisPoints: 1500)).discount == 158, "15% of 10.50 is 1.575 → 1.58 (half up)")
        #expect(priced(.amountOff(fenPerUnit: 50)).discount == 150)
        #expect(priced(.fixedPrice(fenPerUnit: 299)).net == 897)
        #expect(priced(.buyXGetY(buy: 2, free: 1)).discount == 350)
        #expect(priced(.memberPrice).discount == 0, "member price needs a member")
        #expect(priced(.memberPrice, member: true).net == 900)
        // A discount never exceeds the line, and a fixed price above list is no discount.
        #expect(priced(.amountOff(fenPerUnit: 500)).net == 0)
        #expect(priced(.fixedPrice(fenPerUnit: 999)).discount == 0)
    }

    @Test func weighedGoodsPriceByTheGram() {
        // 1.257 kg of pork at 32.80/kg = 41.2296 → 41.23.
        let pork = CartLine(sku: "PORK", quantity: 1257, unitPrice: 3280)
        let cart = PricingEngine.price([pork], promotions: [Self.promotion(.buyXGetY(buy: 1, free: 1))], context: Self.context)
        #expect(cart.lines[0].gross == 4123)
        #expect(cart.lines[0].discount == 0, "buy-X-get-Y counts pieces, never weight")
    }

    @Test func bestSingleOfferWinsAndLinesMerge() {
        let older = Self.promotion(.percentOff(basisPoints: 1000), "10% off", at: 0)
        let better = Self.promotion(.buyXGetY(buy: 2, free: 1), "buy 2 get 1", scope: PromotionScope(skus: ["COLA"]), at: 1)
        let tie = Self.promotion(.percentOff(basisPoints: 1000), "also 10% off", at: 2)
        let scanned = [CartLine(sku: "COLA", quantity: 1000, unitPrice: 350), CartLine(sku: "BREAD", quantity: 1000, unitPrice: 1200),
                       CartLine(sku: "COLA", quantity: 2000, unitPrice: 350)]
        let cart = PricingEngine.price(scanned, promotions: [tie, better, older], context: Self.context)
        #expect(cart.lines.map(\.sku) == ["COLA", "BREAD"])
        #expect(cart.lines[0].quantity == 3000 && cart.lines[0].promotionName == "buy 2 get 1" && cart.lines[0].discount == 350)
        #expect(cart.lines[1].promotionName == "10% off", "ties go to the older promotion")
        #expect(cart.gross == 2250 && cart.discount == 470 && cart.net == 1780)
    }

    @Test func windowsStoresAndMembers() {
        let store = OrgID.generate(), other = OrgID.generate()
        let line = CartLine(sku: "TEA", category: "drinks", quantity: 1000, unitPrice: 1000)
        func saves(_ promotion: Promotion, store at: OrgID? = nil, member: Bool = false) -> Bool {
            var context = Self.context
            context.storeId = at
            context.isMember = member
            return PricingEngine.price([line], promotions: [promotion], context: context).discount > 0
        }
        let rule = PromotionRule.percentOff(basisPoints: 500)
        #expect(saves(Self.promotion(rule, window: TimeWindow(weekdays: [3]))))
        #expect(!saves(Self.promotion(rule, window: TimeWindow(weekdays: [6, 7]))))
        #expect(saves(Self.promotion(rule, window: TimeWindow(hours: try! BusinessHours.parse("10:00-11:00")))))
        #expect(!saves(Self.promotion(rule, window: TimeWindow(hours: try! BusinessHours.parse("18:00-02:00")))))
        #expect(!saves(Self.promotion(rule, window: TimeWindow(endsAt: Self.now))), "the end is exclusive")
        #expect(!saves(Self.promotion(rule, window: TimeWindow(startsAt: Self.now.addingTimeInterval(60)))))
        #expect(saves(Self.promotion(rule, stores: [store]), store: store))
        #expect(!saves(Self.promotion(rule, stores: [store]), store: other))
        #expect(!saves(Self.promotion(rule, stores: [store])), "a store-bound promotion needs a store")
        #expect(!saves(Self.promotion(rule, members: true)) && saves(Self.promotion(rule, members: true), member: true))
        #expect(saves(Self.promotion(rule, scope: PromotionScope(categories: ["drinks"]))))
        #expect(!saves(Self.promotion(rule, scope: PromotionScope(skus: ["COFFEE"]))))
    }

    @Test func rulesAreValidated() {
        #expect(throws: DomainError.self) { try Self.promotion(.percentOff(basisPoints: 0)).validate() }
        #expect(throws: DomainError.self) { try Self.promotion(.percentOff(basisPoints: 10_001)).validate() }
        #expect(throws: DomainError.self) { try Self.promotion(.amountOff(fenPerUnit: -1)).validate() }
        #expect(throws: DomainError.self) { try Self.promotion(.buyXGetY(buy: 0, free: 1)).validate() }
        #expect(throws: DomainError.self) { try Self.promotion(.memberPrice, window: TimeWindow(weekdays: [0])).validate() }
        #expect(throws: DomainError.self) {
            try Self.promotion(.memberPrice, window: TimeWindow(startsAt: Self.now, endsAt: Self.now)).validate()
        }
        #expect(PricingEngine.roundedDivision(-15, by: 10) == -2 && PricingEngine.roundedDivision(14, by: 10) == 1)
    }
}

@Suite struct CatalogRulesTests {
    @Test func inputIsValidatedAndNormalised() throws {
        #expect(try CatalogRules.sku(" cola-330_ml ") == "COLA-330_ML")
        #expect(throws: DomainError.self) { try CatalogRules.sku("可乐") }
        #expect(try CatalogRules.barcodes(["6901234567892", " 036000291452 ", "96385074", "shelf-1"])
                == ["6901234567892", "036000291452", "96385074", "SHELF-1"])
        #expect(throws: DomainError.invalid("barcodes.0", "is not a valid ean13 code (length or check digit)")) {
            try CatalogRules.barcodes(["6901234567893"])
        }
        #expect(throws: DomainError.invalid("barcodes.1", "is listed twice")) { try CatalogRules.barcodes(["A-1", "a-1"]) }
        #expect(throws: DomainError.self) { try CatalogRules.barcodes(Array(repeating: "X", count: 11)) }
        #expect(try CatalogRules.taxRate(1300) == 1300)
        #expect(throws: DomainError.self) { try CatalogRules.taxRate(1700) }
        #expect(throws: DomainError.self) { try CatalogRules.price(-1, field: "price") }
    }

    @Test func chineseNamesAreFoundByAnySubstringOfTwoCharacters() {
        #expect(CatalogRules.fold("Ｃｏｃａ　Cola ") == "cocacola")
        let terms = CatalogRules.terms(["可口可乐 330ml", "Coca-Cola"])
        for query in ["可乐", "口可", "可口可乐", "330", "cola", "COLA", "ｃｏｌａ", "可", "coca-cola", "可乐 330ml", "ml"] {
            #expect(CatalogRules.queryTerms(query).isSubset(of: terms), "\(query)")
        }
        #expect(!CatalogRules.queryTerms("雪碧").isSubset(of: terms))
        #expect(CatalogRules.queryTerms("可") == ["可"] && CatalogRules.queryTerms("可口可") == ["可口", "口可"])
        // Spaces between Chinese characters are ignored on both sides, as before word terms.
        #expect(CatalogRules.queryTerms("康师 傅") == ["康师", "师傅"])
        #expect(CatalogRules.queryTerms("傅红").isSubset(of: CatalogRules.terms(["康师傅 红烧牛肉面"])))
    }

    @Test func wordsAreFoundByTheirBeginnings() {
        let terms = CatalogRules.terms(["康师傅红烧牛肉面 500克", "Kangshifu Beef-Noodles 12x120g"])
        func found(_ query: String) -> Bool { CatalogRules.queryTerms(query).isSubset(of: terms) }
        // A typed word is one term, a prefix of some word of the name, in any case or width, in any order.
        #expect(CatalogRules.queryTerms("Kangshifu Bee") == ["kangshifu", "bee"])
        for query in ["k", "Kang", "kangshifu bee", "BEEF kang", "ｋａｎｇ", "noodles", "noo kan", "500", "500克", "牛肉 bee", "12", "120g", "g", "x"] {
            #expect(found(query), "\(query)")
        }
        // The middle of a word is not a beginning (letter pairs found it before this scheme), nor is
        // a word glued to the next one.
        for query in ["shifu", "eef", "kangshifubeef", "00", "kangshifu pork", "20g"] {
            #expect(!found(query), "\(query)")
        }
        // A product has one term per prefix of each word (and of each run of digits or letters inside it), not per letter pair.
        #expect(CatalogRules.terms(["Beef 330ml"]) == ["b", "be", "bee", "beef", "3", "33", "330", "330m", "330ml", "m", "ml"])
        // Words longer than the longest prefix indexed are looked up by that prefix.
        let long = String(repeating: "a", count: CatalogRules.maxPrefix + 5)
        #expect(CatalogRules.queryTerms(long) == [String(repeating: "a", count: CatalogRules.maxPrefix)])
        #expect(CatalogRules.queryTerms(long).isSubset(of: CatalogRules.terms([long])))
        #expect(CatalogRules.queryTerms("- / ·").isEmpty)
    }

    @Test func aProductPricesAsACartLine() {
        let product = Product(id: .generate(), merchantId: .generate(), sku: "COLA", barcodes: ["6901234567892"], nameZh: "可乐",
                              nameEn: "Cola", category: "drinks", unit: .piece, price: 350, memberPrice: 300, taxRate: 1300, cost: 200,
                              scaleCode: nil, active: true, createdAt: Date(), updatedAt: Date())
        #expect(product.cartLine(quantity: 2000) == CartLine(sku: "COLA", category: "drinks", quantity: 2000, unitPrice: 350, memberPrice: 300))
    }
}
